import type { Middleware } from 'koa';

/**
 * One set of protections for every response, set before anything renders so that pages
 * from oidc-provider (errors, form_post) get them as well as the interaction pages: never
 * framed (consent must not be clickjacked), no scripts but the ones oidc-provider adds by
 * hash to `script-src` (its form_post page), nothing loaded from elsewhere, no referrer.
 */
const CSP = ["default-src 'none'", "style-src 'unsafe-inline'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');

export const pageHeaders: Middleware = async (ctx, next) => {
  ctx.set('content-security-policy', CSP);
  ctx.set('x-frame-options', 'DENY');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('x-content-type-options', 'nosniff');
  await next();
};
