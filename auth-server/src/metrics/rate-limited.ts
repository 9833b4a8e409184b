import type { Middleware } from 'koa';
import type { AuthMetrics } from './registry.ts';

/** Counts the 429s of the rate limits below it, by the endpoint the provider resolves (http/provider-routes.ts). */
export function countRateLimited(metrics: AuthMetrics, routeOf: (path: string) => { name: string } | undefined): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status === 429) metrics.rateLimited.inc({ endpoint: routeOf(ctx.path)?.name ?? 'other' });
  };
}
