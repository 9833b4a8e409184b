import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ProtectedResource } from '../policies/resources.ts';
import { bindToProof, type DpopProof } from './dpop-binding.ts';
import { JWT_BEARER } from './grant-type.ts';

/**
 * The token response of the JWT bearer grant, built from oidc-provider's own token models as
 * its grants build theirs: the resource's format (JWT: `typ: at+jwt`, ES256, `aud` = the
 * resource), its lifetime and scopes (getResourceServerInfo), the claims extraTokenClaims
 * adds, `ctx.oidc.entities` set for the middlewares and metrics that read them. No refresh
 * token: a new token takes a new assertion, so the IdP (or the workload platform) decides,
 * every time, whether access continues.
 */

export interface Issue {
  resource: ProtectedResource;
  info: ResourceServer;
  scopes: string[];
}

function respond(ctx: KoaContextWithOIDC, token: { tokenType: string; expiration: number }, value: string, scopes: string[]) {
  ctx.body = { access_token: value, token_type: token.tokenType, expires_in: token.expiration, ...(scopes.length ? { scope: scopes.join(' ') } : {}) };
}

/**
 * A user's token (ID-JAG). It gets a grant of its own, living as long as the token: the
 * token carries its `grant_id`, so revoking it (connected apps, `pnpm admin`) reaches the
 * resource servers at once, as for any other grant.
 */
export async function issueUserToken(
  ctx: KoaContextWithOIDC,
  provider: Provider,
  accountId: string,
  { resource, info, scopes }: Issue,
  proof: DpopProof | undefined,
): Promise<void> {
  const client = ctx.oidc.client!;
  const ttl = info.accessTokenTTL ?? resource.accessTokenTtl;
  const grant = Object.assign(new provider.Grant({ accountId, clientId: client.clientId }), { expiresIn: ttl });
  grant.addResourceScope(resource.url, scopes.join(' '));
  const grantId = await grant.save();
  ctx.oidc.entity('Grant', grant);

  const token = new provider.AccessToken({ accountId, client, grantId, gty: JWT_BEARER, scope: scopes.join(' '), expiresIn: ttl });
  token.resourceServer = new provider.ResourceServer(resource.url, info);
  bindToProof(proof, token);
  ctx.oidc.entity('AccessToken', token);
  respond(ctx, token, await token.save(), scopes);
}

/**
 * A workload's token: its machine client's, as client_credentials issues it (`sub` =
 * `client_id`, no account, no grant). The workload's own `sub` never becomes a user id at
 * the resource server (where notes are keyed by `sub`), so no issuer can name its way into
 * a user's data.
 */
export async function issueMachineToken(
  ctx: KoaContextWithOIDC,
  provider: Provider,
  { resource, info, scopes }: Issue,
  proof: DpopProof | undefined,
): Promise<void> {
  const ttl = info.accessTokenTTL ?? resource.accessTokenTtl;
  const token = new provider.ClientCredentials({ client: ctx.oidc.client!, scope: scopes.join(' '), expiresIn: ttl });
  token.resourceServer = new provider.ResourceServer(resource.url, info);
  bindToProof(proof, token);
  ctx.oidc.entity('ClientCredentials', token);
  respond(ctx, token, await token.save(), scopes);
}
