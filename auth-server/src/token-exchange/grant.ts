import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { describeError, type Logger } from '../log.ts';
import { UpstreamSignInRequired, type UpstreamAccess } from '../upstream-tokens/access.ts';
import { invalidGrant, type Subject } from './subject-token.ts';

/**
 * RFC 8693 token exchange at the token endpoint: a resource server (a pre-registered
 * confidential client with `token_exchange` in CLIENTS_FILE) presents the access token it
 * received from an MCP client and gets the user's access token at the upstream IdP. The MCP
 * token never leaves this server; the upstream token is never in any other response.
 *
 * Registered with provider.registerGrantType (README upgrade notes).
 */

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const PARAMETERS = ['audience', 'scope', 'requested_token_type', 'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type'];

export interface TokenExchangeDeps {
  /** client_id → the resources whose tokens it may exchange (CLIENTS_FILE `token_exchange.resources`). */
  exchangers: ReadonlyMap<string, readonly string[]>;
  /** What `audience` may name: the IdP's issuer first (the default), then configured upstream API names. */
  audiences: readonly string[];
  readSubjectToken: (token: string) => Promise<Subject>;
  access: UpstreamAccess;
  logger: Logger;
}

type Params = Record<string, string | string[] | undefined>;

export function registerTokenExchange(provider: Provider, deps: TokenExchangeDeps) {
  provider.registerGrantType(TOKEN_EXCHANGE, (ctx) => exchange(ctx, deps), PARAMETERS, ['audience']);
}

async function exchange(ctx: KoaContextWithOIDC, deps: TokenExchangeDeps) {
  const client = ctx.oidc.client!;
  const params = ctx.oidc.params as Params;

  const resources = deps.exchangers.get(client.clientId);
  if (!resources || client.clientAuthMethod === 'none') throw new errors.UnauthorizedClient('this client may not exchange tokens');

  const subjectToken = single(params, 'subject_token');
  if (!subjectToken) throw new errors.InvalidRequest('subject_token is required');
  if (single(params, 'subject_token_type') !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  const requested = single(params, 'requested_token_type');
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  if (params.actor_token !== undefined) throw new errors.InvalidRequest('actor_token (delegation) is not supported');

  const audiences = [params.audience ?? []].flat();
  if (audiences.length > 1) throw new errors.InvalidTarget('exactly one audience may be requested');
  const audience = audiences[0] ?? deps.audiences[0]!;
  if (!deps.audiences.includes(audience)) throw new errors.InvalidTarget('audience names no upstream this server holds tokens for');

  const subject = await deps.readSubjectToken(subjectToken);
  if (!subject.audiences.some((aud) => resources.includes(aud))) {
    throw new errors.InvalidTarget('subject_token was issued for a resource this client does not serve');
  }

  let tokens;
  try {
    const ttl = subject.grantExpiresAt ? subject.grantExpiresAt - Math.floor(Date.now() / 1000) : undefined;
    tokens = await deps.access.accessTokenFor(subject.grantId, subject.accountId, ttl);
  } catch (error) {
    if (error instanceof UpstreamSignInRequired) {
      deps.logger.info({ client: client.clientId, sub: subject.accountId, reason: error.message }, 'token exchange: the user must sign in at the IdP again');
      throw invalidGrant(`the user must sign in again: ${error.message}`);
    }
    deps.logger.warn({ client: client.clientId, err: describeError(error) }, 'token exchange: upstream tokens unavailable');
    const unavailable = new errors.TemporarilyUnavailable('the upstream identity provider cannot be reached; try again shortly');
    Object.assign(unavailable, { status: 503, statusCode: 503, expose: true });
    throw unavailable;
  }

  const requestedScope = single(params, 'scope')?.split(' ').filter(Boolean) ?? [];
  const held = tokens.scope?.split(' ') ?? [];
  if (tokens.scope !== undefined && !requestedScope.every((scope) => held.includes(scope))) {
    throw new errors.InvalidScope('the upstream access token does not carry the requested scope', requestedScope.join(' '));
  }

  const now = Math.floor(Date.now() / 1000);
  ctx.body = {
    access_token: tokens.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: tokens.tokenType.toLowerCase() === 'bearer' ? 'Bearer' : tokens.tokenType,
    ...(tokens.expiresAt !== undefined ? { expires_in: Math.max(0, tokens.expiresAt - now) } : {}),
    ...(tokens.scope !== undefined ? { scope: tokens.scope } : {}),
  };
  deps.logger.info({ client: client.clientId, sub: subject.accountId, audience }, 'token exchange: upstream access token issued');
}

function single(params: Params, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value[0] : value;
}
