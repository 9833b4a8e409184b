import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { createApp } from './app.ts';
import { IntrospectionVerifier } from './auth/introspect.ts';
import type { TokenVerifier } from './auth/verifier.ts';
import { JwtVerifier } from './auth/verify.ts';
import { redisRevocationSource, refusingRevokedGrants, RevokedGrants, sqliteRevocationSource } from './auth/revoked-grants.ts';
import { ConfigError, type Config } from './config.ts';
import type { Registry } from './mcp/registry.ts';
import { createLogger, type Logger } from './log.ts';
import { startMetricsListener } from './metrics/listener.ts';
import { createResourceMetrics, type ResourceMetrics } from './metrics/registry.ts';
import { timedVerifier } from './metrics/timed-verifier.ts';
import { MemoryNotesStore } from './mcp/notes/memory.ts';
import { RedisNotesStore } from './mcp/notes/redis.ts';
import { SqliteFileError } from './mcp/notes/sqlite-file.ts';
import { SqliteNotesStore } from './mcp/notes/sqlite.ts';
import type { NotesStore } from './mcp/notes/store.ts';
import { withUnavailableAsError } from './mcp/notes/unavailable.ts';
import { describeRedisTarget } from './redis/target.ts';

export interface RunningResourceServer {
  url: string;
  app: FastifyInstance;
  /** With METRICS=true: where the Prometheus metrics are served. */
  metricsUrl?: string | undefined;
  /** The revoked grants it refuses, when shared with the auth server (tests read them at once with `poll()`). */
  revokedGrants?: RevokedGrants | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Replaces the verifier the configuration selects (benchmarks use a pass-through one). */
  verifier?: TokenVerifier;
  /** Replaces this server's tools, resources and prompts (tests of the registry use their own). */
  registry?: Registry;
}

/** Revoked grants from the store shared with the auth server, or none (REVOKED_GRANTS). */
export function createRevokedGrants(config: Config, logger: Logger): RevokedGrants | undefined {
  const { revokedGrants } = config;
  if (revokedGrants.kind === 'off') {
    logger.info('revoked grants are not shared with this server: an access token stays valid until it expires (REVOKED_GRANTS=off)');
    return undefined;
  }
  const source = revokedGrants.kind === 'redis' ? redisRevocationSource(revokedGrants.target) : sqliteRevocationSource(revokedGrants.path);
  logger.info({ source: source.description }, 'refusing access tokens of revoked grants, as published by the auth server');
  const revoked = new RevokedGrants(source, logger);
  revoked.start(REVOKED_GRANTS_POLL_MS);
  return revoked;
}

/** How often revoked grants are read: a revocation takes effect within about this long. */
const REVOKED_GRANTS_POLL_MS = 1000;

/** The verifier TOKEN_VERIFIER selects: local JWT verification (default) or RFC 7662 introspection. */
export function createVerifier(config: Config, logger: Logger, metrics?: ResourceMetrics): TokenVerifier {
  const location = { issuer: config.authServer.issuer, internalUrl: config.authServer.internalUrl };
  if (config.tokenVerifier === 'introspection') {
    return new IntrospectionVerifier({ ...location, ...config.introspection!, audience: config.resourceUrl, clockTolerance: config.clockTolerance });
  }
  return new JwtVerifier({
    ...location,
    audience: config.resourceUrl,
    algorithms: config.accessTokenAlgorithms,
    clockTolerance: config.clockTolerance,
    cooldownMs: config.jwks.cooldownMs,
    maxAgeMs: config.jwks.maxAgeMs,
    cacheTtlMs: config.tokenCacheTtlMs,
    ...(metrics ? { onCacheHit: () => metrics.verifiedTokenCacheHits.inc() } : {}),
    onJwksFetch: (event) => {
      metrics?.jwksFetches.inc({ reason: event.reason, outcome: event.ok ? 'ok' : 'failed' });
      if (event.ok) logger.info({ reason: event.reason, keys: event.keys }, 'fetched the authorization server JWKS');
      else logger.warn({ reason: event.reason, error: event.error }, 'JWKS fetch failed');
    },
  });
}

/** The notes store STORE chooses: a SQLite file (default), Redis (several instances) or this process. */
export function createNotesStore(config: Config, logger: Logger): NotesStore {
  const { store } = config;
  if (store.kind === 'redis') return withUnavailableAsError(new RedisNotesStore({ target: store, keyPrefix: store.keyPrefix, logger }));
  if (store.kind === 'memory') {
    logger.warn(
      'STORE=memory: notes are kept IN THIS PROCESS ONLY — lost on restart and not shared between instances; unset STORE to keep them in a SQLite file',
    );
    return new MemoryNotesStore();
  }
  try {
    const notes = withUnavailableAsError(new SqliteNotesStore(store.path));
    logger.info({ sqlite: store.path }, 'notes are kept in a SQLite file (one instance; several need STORE=redis)');
    return notes;
  } catch (error) {
    // The operator has to act (move the file, free it, fix permissions): one line, exit 2.
    if (error instanceof SqliteFileError) throw new ConfigError(`resource-server could not start: ${error.message}`);
    throw error;
  }
}

function storeLocation(config: Config): string | undefined {
  if (config.store.kind === 'sqlite') return config.store.path;
  if (config.store.kind === 'redis') return describeRedisTarget(config.store);
  return undefined;
}

/** Builds the app from the configuration and listens; used by main.ts, tests and the benchmark. */
export async function startResourceServer(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
  options: StartOptions = {},
): Promise<RunningResourceServer> {
  const revokedGrants = createRevokedGrants(config, logger);
  const metrics = createResourceMetrics();
  const baseVerifier = options.verifier ?? createVerifier(config, logger, metrics);
  const verifier = timedVerifier(revokedGrants ? refusingRevokedGrants(baseVerifier, revokedGrants) : baseVerifier, metrics);
  const notes = createNotesStore(config, logger);
  let draining = false;
  const app = await createApp({
    metrics,
    config,
    verifier,
    notes,
    logger,
    revokedGrants,
    draining: () => draining,
    ...(options.registry ? { registry: options.registry } : {}),
  });
  await app.listen({ host: config.host, port: config.port });
  const metricsListener = config.metrics ? await startMetricsListener(metrics.registry, config.metrics) : undefined;
  if (metricsListener) logger.info({ metrics: metricsListener.url }, 'metrics listener ready');
  // Warm the key cache so the first request does not pay for discovery; failure is not fatal (/readyz tells).
  void verifier.readiness().then((ready) => ready.ok || logger.warn({ detail: ready.detail }, 'not ready yet: cannot verify tokens'));
  logger.info(
    {
      resource: config.resourceUrl,
      metadata: config.resourceMetadataUrl,
      authorizationServer: config.authServer.issuer,
      tokenVerifier: config.tokenVerifier,
      notes: notes.kind,
      notesLocation: storeLocation(config),
    },
    'resource-server ready',
  );
  // Shutdown in the order a load balancer needs: not ready, keep serving through the grace
  // period, stop accepting, finish what was accepted (Fastify's close waits for in-flight
  // requests), then the notes store. Once: a second signal waits for the first close.
  let closing: Promise<void> | undefined;
  const close = async () => {
    draining = true;
    logger.info({ graceMs: config.shutdownGraceMs }, 'shutting down: not ready, finishing accepted requests');
    if (config.shutdownGraceMs > 0) await sleep(config.shutdownGraceMs);
    await app.close();
    await revokedGrants?.close();
    await metricsListener?.close();
  };
  return { url: config.resourceUrl, app, metricsUrl: metricsListener?.url, revokedGrants, close: () => (closing ??= close()) };
}
