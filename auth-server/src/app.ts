import Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { AccountStore } from './accounts.ts';
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
  logger: Logger;
  cookieKeys: string[];
}

/** The Koa app: interaction pages first, then oidc-provider for every protocol endpoint. */
export function createApp({ config, provider, upstream, accounts, logger, cookieKeys }: AppDeps): Koa {
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
    await next();
  });

  const interactions = interactionRoutes({
    provider,
    upstream,
    accounts,
    logger,
    secureCookies: config.issuer.startsWith('https:'),
  });
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(mount(provider));

  provider.on('server_error', (_ctx, error) => logger.error({ err: describeError(error) }, 'oidc-provider server error'));
  return app;
}
