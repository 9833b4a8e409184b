import { Redis } from 'ioredis';
import type { Adapter, AdapterFactory } from 'oidc-provider';
import { ConfigError, type StoreChoice } from '../config.ts';
import type { Logger } from '../log.ts';
import type { ConsumptionPolicy } from './consumption.ts';
import { MemoryAdapter, MemoryStore } from './memory.ts';
import { RedisAdapter } from './redis.ts';
import { SqliteFileError } from './sqlite-file.ts';
import { SqliteStore } from './sqlite.ts';

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
  redis?: Redis;
}

export interface StorageOptions {
  store: StoreChoice;
  policy: ConsumptionPolicy;
  logger: Logger;
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
      return redisStorage(options.store.url, options);
  }
}

/** One adapter per model name, created on first use. */
function perModel(create: (name: string) => Adapter): AdapterFactory {
  const adapters = new Map<string, Adapter>();
  return (name) => adapters.get(name) ?? adapters.set(name, create(name)).get(name)!;
}

function memoryStorage({ policy, logger }: StorageOptions): Storage {
  logger.warn('STORE=memory: clients, grants, tokens, sessions and accounts live in this process and are LOST ON RESTART; unset STORE to keep them in a SQLite file');
  const store = new MemoryStore();
  return {
    kind: 'memory',
    adapter: perModel((name) => new MemoryAdapter(name, store, policy)),
    ping: async () => true,
    close: async () => {},
  };
}

function sqliteStorage(path: string, { policy, logger, sweepIntervalMs }: StorageOptions): Storage {
  let store: SqliteStore;
  try {
    store = new SqliteStore(path, sweepIntervalMs ? { sweepIntervalMs } : {});
  } catch (error) {
    // The operator has to act (move the file, free it, fix permissions): one line, exit 2.
    if (error instanceof SqliteFileError) throw new ConfigError(`auth-server could not start: ${error.message}`);
    throw error;
  }
  logger.info({ sqlite: path }, 'state is kept in a SQLite file (one instance; several need STORE=redis)');
  return {
    kind: 'sqlite',
    location: path,
    adapter: perModel((name) => store.adapter(name, policy)),
    ping: async () => store.ping(),
    close: async () => store.close(),
  };
}

async function redisStorage(url: string, { policy, logger }: StorageOptions): Promise<Storage> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  redis.on('error', (error) => logger.error({ err: { type: error.name, message: error.message } }, 'redis connection error'));
  await redis.connect();
  const host = new URL(url).host;
  logger.info({ redis: host }, 'state is kept in Redis');
  return {
    kind: 'redis',
    location: host,
    redis,
    adapter: perModel((name) => new RedisAdapter(name, redis, policy)),
    ping: async () => (await redis.ping().catch(() => 'down')) === 'PONG',
    close: async () => void (await redis.quit().catch(() => redis.disconnect())),
  };
}
