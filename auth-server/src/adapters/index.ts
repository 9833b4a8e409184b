import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Adapter, AdapterFactory } from 'oidc-provider';
import { ConfigError, type StoreChoice } from '../config.ts';
import type { Logger } from '../log.ts';
import { createRedisClient, isRedisOutage, type RedisClient } from '../redis/client.ts';
import { describeRedisTarget, type RedisTarget } from '../redis/target.ts';
import type { ConsumptionPolicy, StoredRecord } from './consumption.ts';
import { MemoryAdapter, MemoryStore } from './memory.ts';
import { listRedisRecords, RedisAdapter } from './redis.ts';
import { publishingRevocations, redisRevocationLog } from './revocations.ts';
import { SqliteFileError } from './sqlite-file.ts';
import { SqliteStore } from './sqlite.ts';
import { guardAdapter, sqliteFailure, StorageUnavailableError } from './unavailable.ts';

export { StorageUnavailableError };

/**
 * Where the auth server keeps its state: a SQLite file (the default, one instance), Redis
 * (several instances), or this process (tests and throwaway runs).
 */
export interface Storage {
  kind: StoreChoice['kind'];
  /** The SQLite file or the Redis host; none for memory. */
  location?: string;
  adapter: AdapterFactory;
  /** Reachability, for /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /** The shared client, for other Redis users (rate limits). */
  redis?: RedisClient;
  /** Whether an error from this store (or a user of its client) means the store is down. */
  isUnavailable(error: unknown): boolean;
  /** Every live record of a model, for operators (admin CLI, connected apps); not for request paths. */
  list(model: string): Promise<StoredRecord[]>;
}

export interface StorageOptions {
  store: StoreChoice;
  policy: ConsumptionPolicy;
  logger: Logger;
  /** How long a revoked grant stays published for resource servers: the longest access-token lifetime (revocations.ts). */
  revocationRetentionSeconds?: number;
  /** How often the SQLite store deletes expired rows (tests shorten it). */
  sweepIntervalMs?: number;
}

export async function createStorage(options: StorageOptions): Promise<Storage> {
  switch (options.store.kind) {
    case 'memory':
      return memoryStorage(options);
    case 'sqlite':
      return sqliteStorage(options.store.path, options);
    case 'redis':
      return redisStorage(options.store, options);
  }
}

/** One adapter per model name, created on first use. */
function perModel(create: (name: string) => Adapter): AdapterFactory {
  const adapters = new Map<string, Adapter>();
  return (name) => adapters.get(name) ?? adapters.set(name, create(name)).get(name)!;
}

function memoryStorage({ policy, logger }: StorageOptions): Storage {
  logger.warn(
    'STORE=memory: clients, grants, tokens, sessions and accounts live in this process and are LOST ON RESTART; unset STORE to keep them in a SQLite file',
  );
  const store = new MemoryStore();
  return {
    kind: 'memory',
    adapter: perModel((name) => new MemoryAdapter(name, store, policy)),
    ping: async () => true,
    close: async () => {},
    isUnavailable: () => false,
    list: async (model) => store.list(model),
  };
}

/** Default when the caller does not say: an hour, longer than the default access-token lifetime. */
const REVOCATION_RETENTION_SECONDS = 3600;

function sqliteStorage(path: string, { policy, logger, sweepIntervalMs, revocationRetentionSeconds = REVOCATION_RETENTION_SECONDS }: StorageOptions): Storage {
  let store: SqliteStore;
  try {
    store = new SqliteStore(path, sweepIntervalMs ? { sweepIntervalMs } : {});
  } catch (error) {
    // The operator has to act (move the file, free it, fix permissions): one line, exit 2.
    if (error instanceof SqliteFileError) throw new ConfigError(`auth-server could not start: ${error.message}`);
    throw error;
  }
  logger.info({ sqlite: path }, 'state is kept in a SQLite file (one instance; several need STORE=redis)');
  const revocationLog = { publish: async (grantId: string) => store.publishRevokedGrant(grantId, revocationRetentionSeconds) };
  return {
    kind: 'sqlite',
    location: path,
    adapter: perModel((name) => guardAdapter(publishingRevocations(store.adapter(name, policy), revocationLog), sqliteFailure)),
    ping: async () => store.ping(),
    close: async () => store.close(),
    isUnavailable: sqliteFailure,
    list: async (model) => store.list(model),
  };
}

/**
 * Redis may be down at start-up and may go away later: the server starts anyway and
 * ioredis keeps reconnecting; meanwhile /readyz names Redis as not reachable, and requests
 * that need it get 503 temporarily_unavailable at once.
 */
const STARTUP_WAIT_MS = 2000;

async function redisStorage(
  target: RedisTarget,
  { policy, logger, revocationRetentionSeconds = REVOCATION_RETENTION_SECONDS }: StorageOptions,
): Promise<Storage> {
  const host = describeRedisTarget(target);
  // No offline queue: while the connection is down a command fails at once (503) instead of
  // holding the request through reconnection back-off (or a Sentinel failover).
  const redis = createRedisClient(target, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
  let reported = false;
  redis.on('error', (error: Error) => {
    // One line per outage, not one per reconnection attempt.
    if (!reported)
      logger.error(
        { err: { type: error.name, message: error.message }, redis: host },
        'Redis is not reachable; retrying (requests that need it answer 503 meanwhile)',
      );
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) logger.info({ redis: host }, 'Redis is reachable again');
    reported = false;
  });
  // Give a reachable Redis the moment it takes to connect, so the first requests find it
  // ready; an unreachable one (its first connection error) does not hold up the start.
  await Promise.race([once(redis, 'ready').catch(() => undefined), sleep(STARTUP_WAIT_MS)]);
  logger.info({ redis: host }, 'state is kept in Redis');
  // Not ready, a connection-level error, or a reply that says "failing over" (CLUSTERDOWN,
  // READONLY…); Redis's other replies are answers, not outages.
  const isUnavailable = (error: unknown) => isRedisOutage(redis, error);
  const revocationLog = redisRevocationLog(redis, revocationRetentionSeconds);
  return {
    kind: 'redis',
    location: host,
    redis,
    isUnavailable,
    list: (model) => listRedisRecords(redis, model),
    adapter: perModel((name) => guardAdapter(publishingRevocations(new RedisAdapter(name, redis, policy), revocationLog), isUnavailable)),
    ping: async () => (await redis.ping().catch(() => 'down')) === 'PONG',
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
