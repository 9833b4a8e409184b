// dev-idp as an enterprise IdP: RFC 8693 token exchange of an ID token it issued for an
// Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant
// §4.3; MCP enterprise-managed authorization, SEP-990). Dex has no such feature: this is
// dev-idp's own, configured by ID_JAG_AUDIENCE and ID_JAG_CLIENTS (config.ts), not by the Dex
// config. The ID-JAG is signed with dev-idp's signing key, so the authorization server
// verifies it with dev-idp's published JWKS, as it would any enterprise IdP's.

import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey, type JWK as JoseJWK } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type ClientMetadata, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import type { StaticUsers } from './users.ts';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** dev-idp's signing key is RSA (provider.ts). */
const ID_JAG_ALG = 'RS256';

/** Five minutes: long enough to present it once, short enough that a leaked one is soon useless. */
export const ID_JAG_TTL_SECONDS = 300;

export interface IdJagPolicy {
  /** The authorization server (its issuer identifier) dev-idp issues ID-JAGs for: the only `audience` accepted. */
  audience: string;
  /**
   * dev-idp client id → the `client_id` that client has at that authorization server. The
   * draft leaves this mapping to the IdP (§5, "maintaining a record of each client_id"): a
   * request parameter could name any client there, so it is configuration here.
   */
  clients: Record<string, string>;
}

/**
 * The client for the CLI's enterprise sign-in when the Dex config does not declare one of
 * that name: public (a native app holds no secret), loopback redirect URIs on any port
 * (RFC 8252 §7.3), allowed the token exchange. Served by dev-idp only; real Dex never sees it.
 */
export function enterpriseClientMetadata(clientId: string): ClientMetadata {
  return {
    client_id: clientId,
    client_name: 'MCP client (enterprise sign-in)',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback'],
    grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE],
    response_types: ['code'],
  };
}

const PARAMETERS = ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type'];

type Params = Record<string, string | undefined>;

const invalidGrant = (description: string) => new errors.CustomOIDCProviderError('invalid_grant', description);

export function registerIdJagExchange(provider: Provider, { policy, signingKey, users }: { policy: IdJagPolicy; signingKey: JWK; users: StaticUsers }) {
  // oidc-provider's JWK type and jose's describe the same JSON (RFC 7517).
  const key = importJWK(signingKey as JoseJWK, ID_JAG_ALG);
  provider.registerGrantType(TOKEN_EXCHANGE, (ctx) => exchange(ctx, provider, policy, users, { key, kid: String(signingKey.kid) }), PARAMETERS);
}

async function exchange(
  ctx: KoaContextWithOIDC,
  provider: Provider,
  policy: IdJagPolicy,
  users: StaticUsers,
  signer: { key: Promise<CryptoKey | Uint8Array>; kid: string },
) {
  const client = ctx.oidc.client!;
  const params = ctx.oidc.params as Params;
  const clientIdThere = policy.clients[client.clientId];
  if (clientIdThere === undefined) throw new errors.UnauthorizedClient(`client ${client.clientId} may not exchange ID tokens for ID-JAGs`);

  if (!params.subject_token) throw new errors.InvalidRequest('subject_token is required (an ID token dev-idp issued to this client)');
  if (params.subject_token_type !== ID_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ID_TOKEN_TYPE}`);
  if (params.requested_token_type !== ID_JAG_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ID_JAG_TYPE}`);
  if (params.actor_token !== undefined) throw new errors.InvalidRequest('actor_token is not used with ID-JAGs');
  if (!params.audience) throw new errors.InvalidRequest('audience is required: the issuer of the authorization server the ID-JAG is for');
  if (params.audience.replace(/\/+$/, '') !== policy.audience) throw new errors.InvalidTarget(`dev-idp issues ID-JAGs for ${policy.audience} only`);
  if (!params.resource) throw new errors.InvalidRequest('resource is required: the MCP server the ID-JAG is for (RFC 8707)');

  // The ID token: signed by dev-idp, for this very client (draft §4.3.3), not expired.
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await provider.IdToken.validate(params.subject_token, client));
  } catch {
    throw invalidGrant(`subject_token is not an ID token dev-idp issued to ${client.clientId}`);
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) throw invalidGrant('subject_token has expired: sign in again');
  const user = typeof claims.sub === 'string' ? users.byId(claims.sub) : undefined;
  if (!user) throw invalidGrant('subject_token names no user of dev-idp');

  // A development IdP's policy: every user may use every scope; the authorization server
  // decides what its resource offers.
  const scope = params.scope?.split(' ').filter(Boolean).join(' ');
  const payload = {
    iss: provider.issuer,
    sub: user.userID,
    aud: policy.audience,
    client_id: clientIdThere,
    resource: params.resource,
    ...(scope ? { scope } : {}),
    jti: randomUUID(),
    iat: now,
    exp: now + ID_JAG_TTL_SECONDS,
    email: user.email,
    email_verified: true,
  };
  ctx.body = {
    access_token: await new SignJWT(payload).setProtectedHeader({ alg: ID_JAG_ALG, typ: ID_JAG_TYP, kid: signer.kid }).sign(await signer.key),
    issued_token_type: ID_JAG_TYPE,
    token_type: 'N_A',
    expires_in: ID_JAG_TTL_SECONDS,
    ...(scope ? { scope } : {}),
  };
}
