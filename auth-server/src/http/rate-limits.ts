import type Koa from 'koa';
import type { Middleware } from 'koa';
import ratelimit from 'koa-ratelimit';
import type { Storage } from '../adapters/index.ts';
import { StorageUnavailableError } from '../adapters/unavailable.ts';
import type { RouteName } from './provider-routes.ts';

export interface RateLimitOptions {
  /** Resolves a path to the provider endpoint it reaches (http/provider-routes.ts). */
  routeOf: (path: string) => { name: RouteName; below: boolean } | undefined;
  /** Requests per minute per client IP, for each limited endpoint. */
  perMinute: Partial<Record<RouteName, number>>;
  storage: Storage;
}

/**
 * Per endpoint, per client IP, per minute; shared across instances when the state is in
 * Redis, in this process otherwise. Keyed on the endpoint the provider resolves, so
 * `/REG` and `/token/` count with `/reg` and `/token`. The client IP is Koa's `ctx.ip`:
 * the socket address, or with TRUST_PROXY the address TRUSTED_PROXY_HOPS from the right of
 * X-Forwarded-For (entries further left are the client's own writing).
 *
 * Registration covers RFC 7592 management below it; the token endpoint covers itself only,
 * not the introspection and revocation endpoints below it, which resource servers call on
 * behalf of many users from one address.
 */
export function rateLimits({ routeOf, perMinute, storage }: RateLimitOptions): Middleware {
  const limiters = new Map(Object.entries(perMinute).map(([name, max]) => [name, limiter(max, name, storage)]));
  return (ctx, next) => {
    const route = routeOf(ctx.path);
    if (!route || (route.below && route.name !== 'registration')) return next();
    const limit = limiters.get(route.name);
    if (!limit) return next();
    // The counters live in the store: when it is down, so is this endpoint (503, not 500).
    return limit(ctx, next).catch((error: unknown) => {
      throw !(error instanceof StorageUnavailableError) && storage.isUnavailable(error) ? new StorageUnavailableError(error) : error;
    });
  };
}

// koa-ratelimit's middleware is an async function; Koa's type leaves its result `any`.
function limiter(max: number, name: string, storage: Storage): (ctx: Koa.Context, next: Koa.Next) => Promise<void> {
  const common = {
    duration: 60_000,
    max,
    id: (ctx: Koa.Context) => `${name}:${ctx.ip}`,
    errorMessage: {
      error: 'too_many_requests',
      error_description: 'Too many requests to this endpoint; retry after the time in Retry-After.',
    } as unknown as string,
    headers: { remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset', total: 'RateLimit-Limit' },
  };
  return storage.redis ? ratelimit({ ...common, driver: 'redis', db: storage.redis as never }) : ratelimit({ ...common, driver: 'memory', db: new Map() });
}
