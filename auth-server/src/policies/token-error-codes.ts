import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * RFC 6749 §5.2: a client that asks the token endpoint for a grant type it may not use gets
 * `unauthorized_client`. oidc-provider answers `invalid_request` with the description below
 * (actions/token.js, allowedGrantTypeCheck), so the code is corrected on the way out.
 * Mounted with `provider.use`; listed in the README's upgrade notes.
 */
const GRANT_NOT_ALLOWED = 'requested grant type is not allowed for this client';

export const unauthorizedClientForDisallowedGrants: Middleware = async (ctx, next) => {
  await next();
  const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
  if ((ctx as Partial<KoaContextWithOIDC>).oidc?.route === 'token' && body?.error === 'invalid_request' && body.error_description === GRANT_NOT_ALLOWED) {
    body.error = 'unauthorized_client';
  }
};
