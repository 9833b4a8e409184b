import { z } from 'zod';

/**
 * Which Redis to use, from the environment: one server (`REDIS_URL`), a primary found
 * through Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`), or a Cluster
 * (`REDIS_CLUSTER_NODES`). Exactly one of the three; `rediss://` means TLS throughout.
 */

export interface RedisNode {
  host: string;
  port: number;
}

interface Credentials {
  username?: string | undefined;
  password?: string | undefined;
}

export type RedisTarget =
  | ({ url: string } & Credentials)
  | { sentinel: { nodes: RedisNode[]; name: string; tls: boolean; sentinelPassword?: string | undefined } & Credentials }
  | { cluster: { nodes: RedisNode[]; tls: boolean } & Credentials };

/** `host:port`, `redis://host:port` or `rediss://host:port` (TLS), comma-separated. */
function nodeList(defaultPort: number) {
  return z.string().transform((value, ctx) => {
    const entries = value.split(/[\s,]+/).filter(Boolean);
    const parsed = entries.map((entry) => {
      const withScheme = /^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`;
      const url = URL.parse(withScheme);
      if (!url || !/^rediss?:$/.test(url.protocol) || !url.hostname || url.pathname.replace('/', '') || url.username || url.password) return undefined;
      return { node: { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || defaultPort) }, tls: url.protocol === 'rediss:' };
    });
    if (entries.length === 0 || parsed.some((entry) => !entry)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a comma-separated list of host:port (or redis://host:port, rediss://host:port for TLS), without credentials or a path',
      });
      return z.NEVER;
    }
    const tls = new Set(parsed.map((entry) => entry!.tls));
    if (tls.size > 1) {
      ctx.addIssue({ code: 'custom', message: 'must use TLS (rediss://) on every node or on none' });
      return z.NEVER;
    }
    return { nodes: parsed.map((entry) => entry!.node), tls: [...tls][0]! };
  });
}

/** Spread into a package's configuration schema. */
export const redisVariables = {
  /** One Redis server: redis://[[user]:password@]host[:port][/db], rediss:// for TLS. */
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  /** The Sentinels that know the primary, and the name they monitor it under. */
  REDIS_SENTINELS: nodeList(26379).optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  /** Seed nodes of a Redis Cluster; the others are discovered from them. */
  REDIS_CLUSTER_NODES: nodeList(6379).optional(),
  /** Credentials of the data nodes (Sentinel's primary and replicas, Cluster nodes); a REDIS_URL's own win. */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** When the Sentinels themselves require a password. */
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
};

type RedisEnv = { [K in keyof typeof redisVariables]?: z.infer<(typeof redisVariables)[K]> };

/** What is wrong with the combination, naming the variables; undefined when nothing is. */
export function redisTargetProblem(env: RedisEnv): string | undefined {
  const chosen = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((name) => env[name] !== undefined);
  if (chosen.length > 1) return `${chosen.join(', ')}: set only one of them`;
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME)
    return 'REDIS_SENTINEL_NAME: must be set with REDIS_SENTINELS (the name the Sentinels monitor the primary under)';
  if (env.REDIS_SENTINEL_NAME && !env.REDIS_SENTINELS) return 'REDIS_SENTINELS: must be set with REDIS_SENTINEL_NAME';
  if (env.REDIS_SENTINEL_PASSWORD && !env.REDIS_SENTINELS) return 'REDIS_SENTINEL_PASSWORD: only applies with REDIS_SENTINELS';
  return undefined;
}

/** The Redis the environment names, if any (check redisTargetProblem first). */
export function redisTarget(env: RedisEnv): RedisTarget | undefined {
  const credentials: Credentials = {
    ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
    ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
  };
  if (env.REDIS_URL) return { url: env.REDIS_URL, ...credentials };
  if (env.REDIS_SENTINELS && env.REDIS_SENTINEL_NAME) {
    return {
      sentinel: {
        ...env.REDIS_SENTINELS,
        name: env.REDIS_SENTINEL_NAME,
        ...credentials,
        ...(env.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: env.REDIS_SENTINEL_PASSWORD } : {}),
      },
    };
  }
  if (env.REDIS_CLUSTER_NODES) return { cluster: { ...env.REDIS_CLUSTER_NODES, ...credentials } };
  return undefined;
}

/** For logs and /readyz: where the data is, never a credential. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: RedisNode[]) => nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
  if ('url' in target) return new URL(target.url).host;
  if ('sentinel' in target) return `Sentinel "${target.sentinel.name}" via ${list(target.sentinel.nodes)}`;
  return `Cluster ${list(target.cluster.nodes)}`;
}
