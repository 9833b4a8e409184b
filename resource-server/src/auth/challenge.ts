/**
 * `WWW-Authenticate: Bearer …` (RFC 6750 §3, RFC 9728 §5.1): tells a client where the
 * resource metadata is, which scopes to ask for and, when a token was sent, what was wrong.
 * Parameter order is fixed (error, scope, resource_metadata, error_description) so the
 * header reads the same in every response and in the README.
 */

export interface Challenge {
  resourceMetadataUrl: string;
  scopes: readonly string[];
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request' | 'invalid_dpop_proof' | 'use_dpop_nonce';
  errorDescription?: string;
  /** `Bearer` (default) or `DPoP` (RFC 9449 §7.1, with `algs` after `scope`). */
  scheme?: 'Bearer' | 'DPoP';
  algs?: readonly string[];
}

/** Quoted-string per RFC 9110 §5.6.4; descriptions are ours, but never trust a string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '')}"`;
}

export function wwwAuthenticate(challenge: Challenge): string {
  const params: string[] = [];
  if (challenge.error) params.push(`error=${quote(challenge.error)}`);
  if (challenge.scopes.length) params.push(`scope=${quote(challenge.scopes.join(' '))}`);
  if (challenge.algs?.length) params.push(`algs=${quote(challenge.algs.join(' '))}`);
  params.push(`resource_metadata=${quote(challenge.resourceMetadataUrl)}`);
  if (challenge.errorDescription) params.push(`error_description=${quote(challenge.errorDescription)}`);
  return `${challenge.scheme ?? 'Bearer'} ${params.join(', ')}`;
}
