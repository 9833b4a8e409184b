import { Redis } from 'ioredis';
import type { Adapter, AdapterFactory } from 'oidc-provider';
import type { Logger } from '../log.ts';
import type { ConsumptionPolicy } from './consumption.ts';
import { MemoryAdapter, MemoryStore } from './memory.ts';
import { RedisAdapter } from './redis.ts';

/** Where the auth server keeps its state: Redis when REDIS_URL is set, else this process. */
export interface Storage {
  kind: 'redis' | 'memory';
  adapter: AdapterFactory;
  /** Reachability, for /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /** The shared client, for other Redis users (rate limits). */
  redis?: Redis;
}

export async function createStorage(options: { redisUrl?: string | undefined; policy: ConsumptionPolicy; logger: Logger }): Promise<Storage> {
  const { redisUrl, policy, logger } = options;
  if (!redisUrl) {
    logger.warn('REDIS_URL is not set: clients, grants, tokens, sessions and accounts live in this process and are LOST ON RESTART; set REDIS_URL for anything but a demo');
    const store = new MemoryStore();
    const adapters = new Map<string, Adapter>();
    return {
      kind: 'memory',
      adapter: (name) => adapters.get(name) ?? adapters.set(name, new MemoryAdapter(name, store, policy)).get(name)!,
      ping: async () => true,
      close: async () => {},
    };
  }

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  redis.on('error', (error) => logger.error({ err: { type: error.name, message: error.message } }, 'redis connection error'));
  await redis.connect();
  logger.info({ redis: new URL(redisUrl).host }, 'state is kept in Redis');
  const adapters = new Map<string, Adapter>();
  return {
    kind: 'redis',
    redis,
    adapter: (name) => adapters.get(name) ?? adapters.set(name, new RedisAdapter(name, redis, policy)).get(name)!,
    ping: async () => (await redis.ping().catch(() => 'down')) === 'PONG',
    close: async () => void (await redis.quit().catch(() => redis.disconnect())),
  };
}
