import type { Middleware } from 'koa';

/**
 * Node keeps only the first of several `Authorization` headers, so which credential was
 * meant is ambiguous: refuse (RFC 6750 §3.1 and RFC 6749 §5.2 `invalid_request`).
 */
export const singleAuthorizationHeader: Middleware = async (ctx, next) => {
  const raw = ctx.req.rawHeaders;
  let count = 0;
  for (let index = 0; index < raw.length; index += 2) if (raw[index]!.toLowerCase() === 'authorization') count++;
  if (count > 1) {
    ctx.status = 400;
    ctx.set('cache-control', 'no-store');
    ctx.body = { error: 'invalid_request', error_description: 'The request carries more than one Authorization header.' };
    return;
  }
  await next();
};
