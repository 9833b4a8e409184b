import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccountStore } from './accounts.ts';
import { createStorage } from './adapters/index.ts';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { loadKeys } from './keys.ts';
import { countDocumentFetches } from './metrics/document-fetches.ts';
import { startMetricsListener } from './metrics/listener.ts';
import { countProviderEvents } from './metrics/provider-events.ts';
import { createAuthMetrics } from './metrics/registry.ts';
import { timedAdapters } from './metrics/store-latency.ts';
import { createLogger, type Logger } from './log.ts';
import { clientUrlFetch } from './policies/outbound-fetch.ts';
import { installJwtBearer } from './jwt-bearer/install.ts';
import { createProvider } from './provider.ts';
import { loadAssertionIssuers, loadResources, loadStaticClients } from './registry.ts';
import { UpstreamIdp } from './upstream.ts';
import { createUpstreamTokens } from './upstream-tokens/index.ts';

/** How long a stopping server waits for requests it accepted before cutting their connections. */
const SHUTDOWN_DRAIN_MS = 30_000;

export interface RunningAuthServer {
  issuer: string;
  server: Server;
  /** With METRICS=true: where the Prometheus metrics are served. */
  metricsUrl?: string | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Extra CA certificates trusted for the URLs clients supply, such as metadata documents (tests, private PKI). */
  cimdCa?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** Builds every part from the configuration and listens; used by main.ts and by tests. */
export async function startAuthServer(config: Config, options: StartOptions = {}): Promise<RunningAuthServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const resources = await loadResources(config);
  // A revoked grant stays published as long as a token issued before the revocation can live.
  const revocationRetentionSeconds = Math.max(...resources.map((resource) => resource.accessTokenTtl)) + 60;
  const metrics = createAuthMetrics();
  const storage = await createStorage({
    store: config.store,
    policy: { refreshOverlapSeconds: config.refreshToken.reuseWindow },
    logger,
    revocationRetentionSeconds,
  });
  storage.adapter = timedAdapters(storage.adapter, storage.kind, metrics);
  try {
    const keys = await loadKeys({ fromEnv: config.signingKeysJson, file: config.keysFile, cookieKeys: config.cookieKeys }, (message) => logger.warn(message));
    const clients = await loadStaticClients(config, options.env);
    const assertionIssuers = await loadAssertionIssuers(config, clients, resources);
    const accounts = new AccountStore(storage.adapter('Account'));
    const fetch = countDocumentFetches(
      clientUrlFetch({ allowLoopback: config.cimd.allowLoopback, ca: options.cimdCa, logger, operatorUrls: clients.keyUrls }),
      metrics,
    );
    if (config.cimd.allowLoopback) logger.warn('CIMD_ALLOW_LOOPBACK is on: client metadata documents on loopback hosts are fetched (development only)');

    const upstream = new UpstreamIdp({ ...config.idp });
    const upstreamTokens = createUpstreamTokens({
      storage,
      keys: keys.encryptionKeys,
      upstream,
      grantTtl: config.refreshToken.ttl,
      enabled: clients.exchangers.size > 0,
    });
    const provider = createProvider({
      config,
      upstreamTokens,
      exchangers: clients.exchangers,
      adapter: storage.adapter,
      accounts,
      resources,
      staticClients: clients.metadata,
      introspectors: clients.introspectors,
      signingKeys: keys.signingKeys,
      cookieKeys: keys.cookieKeys,
      logger,
      fetch,
    });
    if (assertionIssuers) installJwtBearer(provider, { issuers: assertionIssuers, resources, accounts, upstreamIssuer: config.idp.issuer, logger });
    countProviderEvents(provider, metrics, [...resources.map((resource) => resource.url), ...config.upstreamAudiences]);
    let draining = false;
    const app = createApp({
      metrics,
      config,
      provider,
      upstream,
      upstreamTokens,
      accounts,
      storage,
      logger,
      cookieKeys: keys.cookieKeys,
      draining: () => draining,
    });

    const handle = app.callback();
    // Koa settles each request itself (ctx.onerror), so the promise it returns needs no one waiting on it.
    const server = createServer((req, res) => void handle(req, res));
    server.listen(config.port, config.host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const metricsListener = config.metrics ? await startMetricsListener(metrics.registry, config.metrics) : undefined;
    if (metricsListener) logger.info({ metrics: metricsListener.url }, 'metrics listener ready');
    logger.info(
      {
        issuer: config.issuer,
        listening: `${config.host}:${port}`,
        storage: storage.kind,
        storageLocation: storage.location,
        resources: resources.map((resource) => resource.url),
      },
      'auth-server ready',
    );
    let closing: Promise<void> | undefined;
    return {
      issuer: config.issuer,
      server,
      metricsUrl: metricsListener?.url,
      // Shutdown in the order a load balancer needs: not ready, keep serving through the grace
      // period, stop accepting, finish what was accepted (idle keep-alive connections close at
      // once; busy ones after their response, or after SHUTDOWN_DRAIN_MS), then the store.
      // Once: a second signal (Ctrl-C reaches pnpm start's children, which then get SIGTERM
      // too) waits for the first close instead of exiting before the store is closed.
      close: () =>
        (closing ??= (async () => {
          draining = true;
          logger.info({ graceMs: config.shutdownGraceMs }, 'shutting down: not ready, finishing accepted requests');
          if (config.shutdownGraceMs > 0) await sleep(config.shutdownGraceMs);
          const cutOff = setTimeout(() => server.closeAllConnections(), SHUTDOWN_DRAIN_MS).unref();
          await new Promise<void>((resolve, reject) => {
            server.close((error) => (error ? reject(error) : resolve()));
            server.closeIdleConnections();
          });
          clearTimeout(cutOff);
          await storage.close();
          await metricsListener?.close();
        })()),
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}
