/**
 * REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_NAME and REDIS_CLUSTER_NODES, for both
 * servers: exactly one of them picks Redis, `rediss://` means TLS on every connection of that
 * topology, credentials come from REDIS_USERNAME/REDIS_PASSWORD (and the Sentinels' own from
 * REDIS_SENTINEL_PASSWORD), and a combination that cannot work names its variables.
 */
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig as loadAuthConfig } from '../src/config.ts';
import { createRedisClient } from '../src/redis/client.ts';
import { describeRedisTarget } from '../src/redis/target.ts';
import { ConfigError as ResourceConfigError, loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';

describe.each([
  { server: 'auth-server', load: (env: Record<string, string>) => loadAuthConfig({ IDP_CLIENT_SECRET: 'x', ...env }), error: ConfigError },
  { server: 'resource-server', load: (env: Record<string, string>) => loadResourceConfig(env), error: ResourceConfigError },
])('$server', ({ load, error }) => {
  it('finds the primary through Sentinels, with their default port and the monitored name', () => {
    const { store } = load({
      REDIS_SENTINELS: 'sentinel-0.redis:26380, sentinel-1.redis,[fd00::1]:26381',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: 'data-secret',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    });
    expect(store).toMatchObject({
      kind: 'redis',
      sentinel: {
        name: 'mymaster',
        tls: false,
        password: 'data-secret',
        sentinelPassword: 'sentinel-secret',
        nodes: [
          { host: 'sentinel-0.redis', port: 26380 },
          { host: 'sentinel-1.redis', port: 26379 },
          { host: 'fd00::1', port: 26381 },
        ],
      },
    });
  });

  it('joins a Cluster from its seed nodes, over TLS with rediss://', () => {
    expect(load({ REDIS_CLUSTER_NODES: 'rediss://node-a:7000,rediss://node-b:7001', REDIS_USERNAME: 'app' }).store).toMatchObject({
      kind: 'redis',
      cluster: {
        tls: true,
        username: 'app',
        nodes: [
          { host: 'node-a', port: 7000 },
          { host: 'node-b', port: 7001 },
        ],
      },
    });
  });

  it('treats empty topology variables as unset', () => {
    expect(load({ REDIS_SENTINELS: '', REDIS_SENTINEL_NAME: '', REDIS_CLUSTER_NODES: '', REDIS_URL: 'redis://cache:6379' }).store).toMatchObject({
      kind: 'redis',
      url: 'redis://cache:6379',
    });
  });

  it('names the variables of a combination that cannot work', () => {
    expect(() => load({ REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: 'a:7000' })).toThrow(error);
    expect(() => load({ REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: 'a:7000' })).toThrow('REDIS_URL, REDIS_CLUSTER_NODES: set only one of them');
    expect(() => load({ REDIS_SENTINELS: 's:26379' })).toThrow('REDIS_SENTINEL_NAME: must be set with REDIS_SENTINELS');
    expect(() => load({ REDIS_SENTINEL_NAME: 'mymaster' })).toThrow('REDIS_SENTINELS: must be set with REDIS_SENTINEL_NAME');
    expect(() => load({ REDIS_CLUSTER_NODES: 'rediss://a:7000,redis://b:7000' })).toThrow(
      'REDIS_CLUSTER_NODES: must use TLS (rediss://) on every node or on none',
    );
    expect(() => load({ REDIS_CLUSTER_NODES: 'redis://user:pw@a:7000' })).toThrow('REDIS_CLUSTER_NODES: must be a comma-separated list of host:port');
    expect(() => load({ REDIS_SENTINELS: 'http://s:26379', REDIS_SENTINEL_NAME: 'm' })).toThrow('REDIS_SENTINELS: must be a comma-separated list');
    expect(() => load({ STORE: 'redis' })).toThrow('REDIS_URL: must be set when STORE=redis (or REDIS_SENTINELS, or REDIS_CLUSTER_NODES)');
  });
});

describe('the client built for each topology', () => {
  const options = { maxRetriesPerRequest: 2, enableOfflineQueue: false };
  const lazily = <T extends Redis | Cluster>(client: T) => {
    client.disconnect();
    return client;
  };

  it('speaks TLS to the Sentinels and to the primary they name with rediss://, and follows failovers', () => {
    const { store } = loadAuthConfig({ IDP_CLIENT_SECRET: 'x', REDIS_SENTINELS: 'rediss://s:26379', REDIS_SENTINEL_NAME: 'mymaster' });
    if (store.kind !== 'redis' || !('sentinel' in store)) throw new Error('not a sentinel target');
    const client = lazily(createRedisClient(store, options)) as Redis;
    expect(client.options).toMatchObject({
      name: 'mymaster',
      sentinelTLS: {},
      tls: {},
      enableTLSForSentinelMode: true,
      failoverDetector: true,
      enableOfflineQueue: false,
    });
    expect(describeRedisTarget(store)).toBe('Sentinel "mymaster" via s:26379');
  });

  it('joins a Cluster without an offline queue, over TLS with rediss://', () => {
    const { store } = loadAuthConfig({ IDP_CLIENT_SECRET: 'x', REDIS_CLUSTER_NODES: 'rediss://a:7000', REDIS_PASSWORD: 'pw' });
    if (store.kind !== 'redis' || !('cluster' in store)) throw new Error('not a cluster target');
    const client = lazily(createRedisClient(store, options)) as Cluster;
    expect(client).toBeInstanceOf(Cluster);
    expect(client.options).toMatchObject({ enableOfflineQueue: false, redisOptions: { tls: {}, password: 'pw', maxRetriesPerRequest: 2 } });
    expect(describeRedisTarget(store)).toBe('Cluster a:7000');
  });

  it('never names a password where it says which Redis it uses', () => {
    const { store } = loadAuthConfig({ IDP_CLIENT_SECRET: 'x', REDIS_URL: 'rediss://app:secret@cache.internal:6380/2' });
    if (store.kind !== 'redis') throw new Error('not redis');
    expect(describeRedisTarget(store)).toBe('cache.internal:6380');
  });
});
