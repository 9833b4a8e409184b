/**
 * Why the bearer gate refused a request, from what it answered: the status and the
 * WWW-Authenticate challenge (auth/bearer.ts, auth/verify.ts word them). A fixed vocabulary:
 * the description itself never becomes a label.
 */
const DESCRIPTIONS: [RegExp, string][] = [
  [/never in the URL/, 'token_in_query'],
  [/not a Bearer or DPoP token/, 'not_bearer'],
  [/bound to a DPoP key/, 'dpop_token_as_bearer'],
  [/not DPoP-bound/, 'unbound_token_as_dpop'],
  [/accepts only DPoP/, 'bearer_refused'],
  [/not a JWT/, 'malformed'],
  [/algorithm/, 'algorithm'],
  [/not an access token/, 'not_access_token'],
  [/expired/, 'expired'],
  [/another resource/, 'audience'],
  [/untrusted authorization server/, 'issuer'],
  [/not valid yet/, 'not_yet_valid'],
  [/key this server does not know/, 'unknown_key'],
  [/signature is invalid/, 'bad_signature'],
  [/revoked/, 'revoked'],
  [/not active|inactive/, 'inactive'],
];

export function rejectionReason(status: number, challenge: string | undefined): string | undefined {
  if (status === 503) return 'authorization_server_unavailable';
  if (status === 400 && challenge?.includes('error="invalid_request"')) return 'several_authorization_headers';
  if (status !== 401) return undefined;
  if (challenge?.includes('error="invalid_dpop_proof"')) return 'invalid_dpop_proof';
  if (challenge?.includes('error="use_dpop_nonce"')) return 'use_dpop_nonce';
  if (!challenge?.includes('error="invalid_token"')) return 'missing';
  const description = /error_description="([^"]*)"/.exec(challenge)?.[1] ?? '';
  return DESCRIPTIONS.find(([pattern]) => pattern.test(description))?.[1] ?? 'invalid';
}

/** The scopes an insufficient_scope challenge names, of those this server knows. */
export function challengedScopes(challenge: string | undefined, known: ReadonlySet<string>): string[] {
  if (!challenge?.includes('error="insufficient_scope"')) return [];
  const scope = /(?:^|[\s,])scope="([^"]*)"/.exec(challenge)?.[1] ?? '';
  return scope.split(' ').filter((name) => known.has(name));
}
