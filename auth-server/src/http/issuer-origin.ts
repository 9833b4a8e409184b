import type { Middleware } from 'koa';

/**
 * The configured issuer is the only truth about where this server lives. Every URL built
 * from the request — each endpoint in the metadata, redirects, cookie paths — takes its
 * scheme and host from the issuer, never from `Host`, `X-Forwarded-Host`,
 * `X-Forwarded-Proto` or an absolute-form request target, all of which a client writes.
 * (Clients check only `issuer` in the metadata, so a poisoned endpoint would go unnoticed.)
 */
export function pinRequestOriginToIssuer(issuer: string): Middleware {
  const { protocol, host } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return async (ctx, next) => {
    if (!ctx.url.startsWith('/')) {
      // `GET https://evil.example/.well-known/… HTTP/1.1`: keep only the path and query.
      const target = URL.parse(ctx.url);
      ctx.url = target ? `${target.pathname}${target.search}` : '/';
      ctx.originalUrl = ctx.request.originalUrl = ctx.url;
    }
    // Own properties shadow Koa's getters; origin, href, hostname and secure derive from them.
    Object.defineProperties(ctx.request, { protocol: { value: scheme }, host: { value: host } });
    await next();
  };
}
