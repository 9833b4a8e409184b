import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';

/**
 * private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): the client signs a
 * short JWT with its private key; this server holds only the public keys. oidc-provider does
 * the protocol (lib/shared/jwt_client_auth.js): the client is the assertion's `sub`, `iss`
 * must equal it, `exp` and `jti` are required, `exp`/`nbf` are checked with its 15-second
 * clock tolerance, the signature against the client's `jwks` or `jwks_uri` with one of the
 * algorithms below, and the `jti` is remembered in the store until `exp` (ReplayDetection;
 * adapters/replay-detection.ts makes that check atomic). What this module adds:
 *
 * - `aud` must be exactly this server's issuer identifier, as a single string. oidc-provider
 *   would also take the token endpoint URL or the URL of the endpoint called; an assertion
 *   whose audience is an endpoint URL can be one the client made for another server that
 *   announced this server's endpoint as its own (draft-ietf-oauth-rfc7523bis), while the
 *   issuer is what the client checked in the metadata.
 * - `exp` at most MAX_ASSERTION_LIFETIME_SECONDS ahead (oidc-provider sets no limit): an
 *   assertion is a credential, and its replay record lives until it expires.
 * - every refusal says what was wrong in `error_description` (oidc-provider's is always
 *   "client authentication failed", with the reason kept internal).
 */

/** Asymmetric only: client_secret_jwt (HMAC, HS*) is not offered, so an HS256 assertion is refused. */
export const CLIENT_ASSERTION_SIGNING_ALGS = ['ES256', 'ES384', 'PS256', 'PS384', 'RS256', 'Ed25519', 'EdDSA'] as const;

export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

/** oidc-provider's default `clockTolerance`, which this server keeps. */
const CLOCK_TOLERANCE_SECONDS = 15;

function refusal(description: string) {
  const error = new errors.InvalidClientAuth(description);
  error.error_description = `client_assertion refused: ${description}`;
  return error;
}

/** oidc-provider's `assertJwtClientAuthClaimsAndHeader`: called after the signature verified. */
export const assertClientAssertion: NonNullable<Configuration['assertJwtClientAuthClaimsAndHeader']> = (ctx, claims) => {
  if (claims.aud !== ctx.oidc.issuer) {
    throw refusal(`aud must be this server's issuer identifier ${ctx.oidc.issuer}, as a single string (not the token endpoint URL)`);
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp === 'number' && claims.exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    throw refusal(`exp is too far ahead: an assertion may live at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`);
  }
};

/**
 * oidc-provider's reasons (`error_detail`, lib/shared/jwt_client_auth.js and jose's errors), in
 * words a client developer can act on; `{issuer}` is this server's.
 */
const EXPLANATIONS: [RegExp, string][] = [
  [
    /^alg mismatch$/,
    `its alg is not accepted: sign with one of ${CLIENT_ASSERTION_SIGNING_ALGS.join(', ')} (or the client's registered token_endpoint_auth_signing_alg); HMAC algorithms (HS256…) are not, as client_secret_jwt is not offered`,
  ],
  [/^expiration must be specified/, 'it has no exp'],
  [/^jwt expired$/, 'it has expired (exp is in the past): sign a new assertion for each request'],
  [/^jwt not active yet$/, 'its nbf is in the future'],
  [/^unique jti/, 'it has no jti'],
  [/^iss \(JWT issuer\)/, 'its iss must be the client_id, equal to its sub'],
  [/^sub \(JWT subject\)/, 'it has no sub: iss and sub must both be the client_id'],
  [/^(list of )?aud(ience)?\b/, "aud must be this server's issuer identifier {issuer}, as a single string"],
  [
    /^(no applicable key found|multiple matching keys found|signature verification failed)/,
    "its signature does not verify with the keys registered for this client (jwks, jwks_uri or its metadata document's): sign with the private key whose public key is registered",
  ],
  [/^client JSON Web Key Set failed to be refreshed$/, "the client's keys could not be fetched from its jwks_uri, or are not a valid key set"],
  [/^client assertion tokens must only be used once$/, 'it was already used (its jti was seen before): sign a new assertion, with a new jti, for each request'],
  [
    /^the provided authentication mechanism does not match/,
    'this client does not authenticate with private_key_jwt: use its registered token_endpoint_auth_method',
  ],
];

/** The endpoints that authenticate clients, by the event oidc-provider emits on their errors. */
const CLIENT_AUTH_ERROR_EVENTS = ['grant.error', 'introspection.error', 'revocation.error', 'pushed_authorization_request.error'];

const GENERIC = 'client authentication failed';

/**
 * Replaces oidc-provider's generic description of a refused client assertion with its reason.
 * oidc-provider emits these events after it has set the JSON error body (lib/shared/error_handler.js),
 * so the body is rewritten in place. Other refusals (secrets, unknown clients) keep the generic
 * text; the assertion itself never appears anywhere.
 */
export function explainClientAssertionRefusals(provider: Provider) {
  const events = provider as unknown as NodeJS.EventEmitter;
  for (const event of CLIENT_AUTH_ERROR_EVENTS) {
    events.on(event, (ctx: KoaContextWithOIDC, error: { error?: string; error_detail?: string; cause?: unknown }) => {
      const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
      if (error.error !== 'invalid_client' || body?.error !== 'invalid_client' || body.error_description !== GENERIC) return;
      if (typeof ctx.oidc.params?.client_assertion !== 'string') return;
      // A failed jwks_uri refresh is an oidc-provider error of its own, kept as the cause.
      const cause = (error.cause as { error_description?: unknown } | undefined)?.error_description;
      const detail = typeof cause === 'string' ? cause : (error.error_detail ?? '');
      const reason = EXPLANATIONS.find(([pattern]) => pattern.test(detail))?.[1];
      if (reason) body.error_description = `client_assertion refused: ${reason.replace('{issuer}', ctx.oidc.issuer)}`;
    });
  }
}
