import cors from '@koa/cors';
import Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import { accountRoutes } from './account/routes.ts';
import type { AccountStore } from './accounts.ts';
import type { Storage } from './adapters/index.ts';
import type { Config } from './config.ts';
import { errorBoundary } from './http/error-boundary.ts';
import { pinRequestOriginToIssuer } from './http/issuer-origin.ts';
import { pageHeaders } from './http/page-headers.ts';
import { providerRouteResolver } from './http/provider-routes.ts';
import { rateLimits } from './http/rate-limits.ts';
import { singleAuthorizationHeader } from './http/single-authorization-header.ts';
import { interactionRoutes } from './interactions/routes.ts';
import { describeError, type Logger } from './log.ts';
import { countRateLimited } from './metrics/rate-limited.ts';
import { interactionObserver, type AuthMetrics } from './metrics/registry.ts';
import type { UpstreamIdp } from './upstream.ts';
import type { UpstreamTokens } from './upstream-tokens/index.ts';

export interface AppDeps {
  config: Config;
  provider: Provider;
  upstream: UpstreamIdp;
  /** Where the upstream callback keeps the IdP's tokens. */
  upstreamTokens: UpstreamTokens;
  accounts: AccountStore;
  storage: Storage;
  logger: Logger;
  cookieKeys: string[];
  /** True once shutdown has begun: /readyz answers 503 while in-flight work finishes. */
  draining?: () => boolean;
  metrics?: AuthMetrics;
}

/**
 * The Koa app, in order: error boundary, the request's origin pinned to the issuer, page
 * protections, health, one Authorization header at most, rate limits, CORS for
 * registration, the interaction pages, then oidc-provider for every protocol endpoint (it
 * answers CORS for metadata, JWKS, token, revocation and introspection itself).
 */
export function createApp({
  config,
  provider,
  upstream,
  upstreamTokens,
  accounts,
  storage,
  logger,
  cookieKeys,
  draining = () => false,
  metrics,
}: AppDeps): Koa {
  // With TRUST_PROXY, ctx.ip is read TRUSTED_PROXY_HOPS entries from the right of X-Forwarded-For.
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: config.trustedProxyHops, keys: cookieKeys });

  app.use(errorBoundary(logger));

  app.use(pinRequestOriginToIssuer(config.issuer));
  app.use(pageHeaders);

  app.use(async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      ctx.set('cache-control', 'no-store');
      if (draining()) {
        ctx.status = 503;
        ctx.body = { status: 'draining' };
        return;
      }
      const [store, idp] = await Promise.all([storage.ping(), upstream.ping()]);
      ctx.status = store && idp ? 200 : 503;
      const where = storage.location ? `${storage.kind} at ${storage.location}` : storage.kind;
      ctx.body = {
        status: store && idp ? 'ready' : 'not ready',
        storage: { kind: storage.kind, ok: store, ...(store ? {} : { detail: `${where} is not reachable` }) },
        upstreamIdp: { ok: idp },
      };
      return;
    }
    await next();
  });

  app.use(singleAuthorizationHeader);
  const routeOf = providerRouteResolver(provider, ['registration', 'token']);
  if (metrics) app.use(countRateLimited(metrics, routeOf));
  app.use(rateLimits({ routeOf, perMinute: { registration: config.registration.ratePerMinute, token: config.tokenRatePerMinute }, storage }));

  // oidc-provider has no CORS on registration; browser clients (MCP Inspector) register cross-origin.
  const registrationCors = cors({ allowMethods: ['GET', 'POST', 'PUT', 'DELETE'], allowHeaders: ['authorization', 'content-type'], maxAge: 3600 });
  app.use((ctx, next) => (routeOf(ctx.path)?.name === 'registration' ? (registrationCors(ctx, next) as Promise<void>) : next()));

  const interactions = interactionRoutes({
    provider,
    upstream,
    upstreamTokens,
    accounts,
    logger,
    secureCookies: config.secureCookies,
    ...(metrics ? { observer: interactionObserver(metrics) } : {}),
  });
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  const account = accountRoutes({ provider, upstream, accounts, storage, logger, secureCookies: config.secureCookies });
  app.use(account.routes());
  app.use(account.allowedMethods());
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
