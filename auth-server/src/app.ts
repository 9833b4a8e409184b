import cors from '@koa/cors';
import Koa, { type Middleware } from 'koa';
import mount from 'koa-mount';
import ratelimit from 'koa-ratelimit';
import type Provider from 'oidc-provider';
import type { AccountStore } from './accounts.ts';
import type { Storage } from './adapters/index.ts';
import type { Config } from './config.ts';
import { describeError, interactionRoutes } from './interactions/routes.ts';
import type { Logger } from './log.ts';
import type { UpstreamIdp } from './upstream.ts';
import { errorPage } from './views.ts';

export interface AppDeps {
  config: Config;
  provider: Provider;
  upstream: UpstreamIdp;
  accounts: AccountStore;
  storage: Storage;
  logger: Logger;
  cookieKeys: string[];
}

/**
 * The Koa app, in order: error boundary, health, rate limits, CORS for registration,
 * the interaction pages, then oidc-provider for every protocol endpoint (it answers CORS
 * for metadata, JWKS, token, revocation and introspection itself).
 */
export function createApp({ config, provider, upstream, accounts, storage, logger, cookieKeys }: AppDeps): Koa {
  const app = new Koa({ proxy: config.trustProxy, keys: cookieKeys });

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      // Never a stack trace to the user; the log has the class and message only.
      logger.error({ err: describeError(error), path: ctx.path }, 'request failed');
      ctx.status = 500;
      ctx.type = 'html';
      ctx.body = errorPage('Something went wrong', 'The server could not complete this request. Try again.');
    }
  });

  app.use(async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      const [store, idp] = await Promise.all([storage.ping(), upstream.ping()]);
      ctx.status = store && idp ? 200 : 503;
      ctx.body = { status: store && idp ? 'ready' : 'not ready', storage: { kind: storage.kind, ok: store }, upstreamIdp: { ok: idp } };
      return;
    }
    await next();
  });

  app.use(onPaths(['/reg'], rateLimit(config.registration.ratePerMinute, 'reg', storage)));
  // The token endpoint itself; not introspection or revocation below it, which resource
  // servers call on behalf of many users from one address.
  app.use(onPaths(['/token'], rateLimit(config.tokenRatePerMinute, 'token', storage), { exact: true }));

  // oidc-provider has no CORS on registration; browser clients (MCP Inspector) register cross-origin.
  app.use(onPaths(['/reg'], cors({ allowMethods: ['GET', 'POST', 'PUT', 'DELETE'], allowHeaders: ['authorization', 'content-type'], maxAge: 3600 })));

  const interactions = interactionRoutes({ provider, upstream, accounts, logger, secureCookies: config.secureCookies });
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(mount(provider));

  provider.on('server_error', (_ctx, error) => logger.error({ err: describeError(error) }, 'oidc-provider server error'));
  // Refusals are logged by code and description only: never parameters, codes or tokens.
  const events = provider as unknown as NodeJS.EventEmitter;
  for (const event of ['grant.error', 'registration_create.error', 'introspection.error', 'revocation.error', 'authorization.error']) {
    events.on(event, (_ctx: unknown, error: { error?: string; error_description?: string }) =>
      logger.info({ event, error: error.error, description: error.error_description }, 'request refused'),
    );
  }
  return app;
}

/** Runs `middleware` for a path and, unless `exact`, everything below it. */
function onPaths(paths: string[], middleware: Middleware, { exact = false } = {}): Middleware {
  const matches = (path: string) => paths.some((prefix) => path === prefix || (!exact && path.startsWith(`${prefix}/`)));
  return (ctx, next) => (matches(ctx.path) ? middleware(ctx, next) : next());
}

/** Per client IP, per minute; shared across instances when the state is in Redis. */
function rateLimit(max: number, name: string, storage: Storage): Middleware {
  const common = {
    duration: 60_000,
    max,
    id: (ctx: Koa.Context) => `${name}:${ctx.ip}`,
    errorMessage: { error: 'too_many_requests', error_description: `Too many requests to this endpoint; retry after the time in Retry-After.` } as unknown as string,
    headers: { remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset', total: 'RateLimit-Limit' },
  };
  return storage.redis
    ? ratelimit({ ...common, driver: 'redis', db: storage.redis as never })
    : ratelimit({ ...common, driver: 'memory', db: new Map() });
}
