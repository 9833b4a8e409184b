import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Discovery documents and the JWKS change rarely and are fetched by every client: let
 * clients and caches keep them for five minutes (the JWKS stays short so a rotation is
 * seen soon; resource servers refetch on an unknown `kid` anyway). Mounted with
 * `provider.use`, so the route oidc-provider resolved is known on the way out.
 */
const CACHEABLE = new Set(['discovery', 'jwks']);

export const metadataCacheControl: Middleware = async (ctx, next) => {
  await next();
  if (ctx.status === 200 && CACHEABLE.has((ctx as Partial<KoaContextWithOIDC>).oidc?.route ?? '') && !ctx.response.get('cache-control')) {
    ctx.set('cache-control', 'public, max-age=300');
  }
};
