import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './target.ts';

/** A single server, a Sentinel-managed primary, or a Cluster: the same commands on each. */
export type RedisClient = Redis | Cluster;

/** What every user of this package's client wants, whatever the topology. */
export interface ClientBehaviour {
  /** Retries of one command across reconnections before it fails. */
  maxRetriesPerRequest: number;
  /** false: while disconnected a command fails at once instead of waiting for the connection. */
  enableOfflineQueue: boolean;
  connectTimeout?: number;
}

// After a failover the old primary may come back as a replica: a write it refuses
// (READONLY) means "reconnect", which asks the Sentinels for the primary again.
const reconnectOnReadOnly = (error: Error) => error.message.startsWith('READONLY');

export function createRedisClient(target: RedisTarget, behaviour: ClientBehaviour): RedisClient {
  const common: RedisOptions = {
    maxRetriesPerRequest: behaviour.maxRetriesPerRequest,
    enableOfflineQueue: behaviour.enableOfflineQueue,
    ...(behaviour.connectTimeout ? { connectTimeout: behaviour.connectTimeout } : {}),
  };
  if ('url' in target) {
    const { url, username, password } = target;
    // Credentials written in the URL win over REDIS_USERNAME/REDIS_PASSWORD (ioredis keeps the first).
    return new Redis(url, { ...common, ...(username ? { username } : {}), ...(password ? { password } : {}) });
  }
  if ('sentinel' in target) {
    const { nodes, name, tls, username, password, sentinelPassword } = target.sentinel;
    return new Redis({
      ...common,
      sentinels: nodes,
      name,
      username,
      password,
      sentinelPassword,
      ...(tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      // Subscribes to the Sentinels' +switch-master: clients move to a promoted replica at
      // once instead of waiting for the old primary's connection to fail.
      failoverDetector: true,
      reconnectOnError: reconnectOnReadOnly,
    });
  }
  const { nodes, tls, username, password } = target.cluster;
  return new Cluster(nodes, {
    enableOfflineQueue: behaviour.enableOfflineQueue,
    redisOptions: {
      maxRetriesPerRequest: behaviour.maxRetriesPerRequest,
      ...(behaviour.connectTimeout ? { connectTimeout: behaviour.connectTimeout } : {}),
      username,
      password,
      ...(tls ? { tls: {} } : {}),
    },
  });
}

/**
 * Whether a failed command means "Redis is unavailable right now" (answer 503, retry later)
 * rather than an answer. The connection is not ready, a connection-level failure, or one of
 * Redis's own replies that say the same during a failover or resharding.
 */
export function isRedisOutage(client: RedisClient, error: unknown): boolean {
  if (client.status !== 'ready') return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'ReplyError') return /^(CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN|NOREPLICAS)\b/.test(error.message);
  return /connection|ECONNREFUSED|ECONNRESET|ETIMEDOUT|max retries|Cluster|slots/i.test(error.message);
}

/** Every primary that holds keys: one server, or each master of a Cluster (for SCAN, which is per node). */
export function primaries(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
