import { resolve } from 'node:path';
import { z } from 'zod';
import { dpopConfig, dpopVariables } from './auth/dpop/variables.ts';
import { legacySseConfig, legacySseVariables } from './legacy-sse/variables.ts';
import { metricsConfig, metricsVariables } from './metrics/variables.ts';
import { redisTarget, redisTargetProblem, redisVariables, type RedisTarget } from './redis/target.ts';

/**
 * Environment → typed configuration. Every variable is documented in the README's
 * configuration table; the defaults are those of a local `pnpm start`, which needs none.
 */

const identifierUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((value) => value.replace(/\/+$/, ''));

const csv = z.string().transform((value) => value.split(/[\s,]+/).filter(Boolean));

/** Where notes are kept (server.ts). */
export type StoreChoice = { kind: 'sqlite'; path: string } | ({ kind: 'redis'; keyPrefix: string } & RedisTarget) | { kind: 'memory' };

export const configSchema = z.object({
  /** The MCP endpoint's public URL: the RFC 8707 resource, the only accepted `aud`. */
  RESOURCE_URL: identifierUrl.default('http://localhost:3000/mcp'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /** The authorization server's issuer, exactly as it appears in `iss`. */
  AUTH_SERVER_ISSUER: identifierUrl.default('http://localhost:4000'),
  /** Back-channel base URL for the AS when its issuer is not reachable from here (containers). */
  AUTH_SERVER_INTERNAL_URL: identifierUrl.optional(),
  /** JWS algorithms accepted on access tokens; asymmetric only. */
  ACCESS_TOKEN_ALGS: csv
    .pipe(z.array(z.enum(['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'])).min(1))
    .default(['ES256']),
  /** Seconds of clock skew tolerated on exp/nbf/iat. */
  CLOCK_TOLERANCE: z.coerce.number().int().min(0).max(300).default(5),
  /** DPoP (RFC 9449): DPOP, DPOP_ALGS, DPOP_PROOF_MAX_AGE_SECONDS, DPOP_NONCE_SECRET (auth/dpop/variables.ts). */
  ...dpopVariables,
  /** Largest request body accepted on /mcp, in bytes. */
  BODY_LIMIT: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),

  /** How access tokens are checked: `jwt` locally against the AS JWKS, or `introspection` (RFC 7662) per request. */
  TOKEN_VERIFIER: z.enum(['jwt', 'introspection']).default('jwt'),
  /** An unknown `kid` refetches the JWKS at most once per this many seconds (forged kids cannot hammer the AS). */
  JWKS_COOLDOWN_SECONDS: z.coerce.number().positive().max(3600).default(30),
  /** A cached JWKS older than this is refreshed in the background; the old keys keep serving meanwhile. */
  JWKS_MAX_AGE_SECONDS: z.coerce.number().positive().max(86_400).default(600),
  /** Seconds a verified JWT is remembered, so repeat requests skip the signature check; 0 turns the cache off. */
  TOKEN_CACHE_SECONDS: z.coerce.number().min(0).max(300).default(60),
  /** The resource server's confidential client at the AS, for `TOKEN_VERIFIER=introspection`. */
  INTROSPECTION_CLIENT_ID: z.string().min(1).optional(),
  INTROSPECTION_CLIENT_SECRET: z.string().min(1).optional(),

  /**
   * Browser origins allowed to call /mcp (Origin header); requests without Origin (non-browser
   * clients) are always allowed. `*` allows any. The resource's own origin is always allowed.
   * Default: MCP Inspector's UI.
   */
  ALLOWED_ORIGINS: csv
    .pipe(
      z.array(z.union([z.literal('*'), z.url({ protocol: /^https?$/, error: 'must be an http(s) origin or *' }).transform((value) => new URL(value).origin)])),
    )
    .default(['http://localhost:6274', 'http://127.0.0.1:6274']),

  /** Notes in Redis (one server, Sentinel or Cluster), shared by several instances; the default store when set. */
  ...redisVariables,
  /** `sqlite` (default without REDIS_URL), `redis` (default with it) or `memory` (lost on restart). */
  STORE: z.enum(['sqlite', 'redis', 'memory'], { error: 'must be sqlite, redis or memory' }).optional(),
  /** The SQLite file of STORE=sqlite. */
  SQLITE_PATH: z.string().default(resolve(import.meta.dirname, '..', '.data', 'notes.db')),
  /** Prefix of every Redis key this server writes. */
  REDIS_KEY_PREFIX: z.string().default('mcp-rs:'),
  /**
   * Where the auth server publishes revoked grants, so their access tokens are refused at
   * once: `auto` — the shared Redis (REVOKED_GRANTS_REDIS_URL, default REDIS_URL) when there
   * is one, else the auth server's SQLite file on this machine; `off` — tokens live until
   * they expire.
   */
  REVOKED_GRANTS: z.enum(['auto', 'redis', 'sqlite', 'off'], { error: 'must be auto, redis, sqlite or off' }).default('auto'),
  REVOKED_GRANTS_REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  /** The auth server's SQLite file (its SQLITE_PATH), read-only. */
  REVOKED_GRANTS_SQLITE_PATH: z.string().default(resolve(import.meta.dirname, '..', '..', 'auth-server', '.data', 'auth-server.db')),
  /** On SIGTERM: seconds of answering /readyz 503 while still serving, before the listener closes (balancer reaction time). */
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(300).default(0),
  ...metricsVariables(9465),
  /** The deprecated HTTP+SSE transport beside /mcp, and its bounds (legacy-sse/variables.ts). */
  ...legacySseVariables,

  /** The upstream IdP whose APIs tools call as the user: the token exchange `audience`, and where userinfo is discovered. */
  UPSTREAM_ISSUER: identifierUrl.default('http://localhost:5556/dex'),
  /** Back-channel base URL of the IdP when its issuer is not reachable from here (containers). */
  UPSTREAM_INTERNAL_URL: identifierUrl.optional(),
  /** This server's confidential client at the AS for RFC 8693 token exchange (a CLIENTS_FILE entry with `token_exchange`). */
  TOKEN_EXCHANGE_CLIENT_ID: z.string().min(1).optional(),
  TOKEN_EXCHANGE_CLIENT_SECRET: z.string().min(1).optional(),
});

export type Config = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof configSchema>) {
  const resource = new URL(env.RESOURCE_URL);
  return {
    resourceUrl: env.RESOURCE_URL,
    /** RFC 9728 §3.1: the well-known suffix is inserted before the resource's path. */
    resourceMetadataUrl: `${resource.origin}/.well-known/oauth-protected-resource${resource.pathname === '/' ? '' : resource.pathname}`,
    mcpPath: resource.pathname,
    host: env.HOST,
    port: env.PORT ?? Number(resource.port || (resource.protocol === 'https:' ? 443 : 80)),
    logLevel: env.LOG_LEVEL,
    authServer: {
      issuer: env.AUTH_SERVER_ISSUER,
      internalUrl: env.AUTH_SERVER_INTERNAL_URL,
    },
    accessTokenAlgorithms: env.ACCESS_TOKEN_ALGS,
    clockTolerance: env.CLOCK_TOLERANCE,
    dpop: dpopConfig(env),
    bodyLimit: env.BODY_LIMIT,
    tokenVerifier: env.TOKEN_VERIFIER,
    jwks: { cooldownMs: env.JWKS_COOLDOWN_SECONDS * 1000, maxAgeMs: env.JWKS_MAX_AGE_SECONDS * 1000 },
    tokenCacheTtlMs: env.TOKEN_CACHE_SECONDS * 1000,
    introspection:
      env.INTROSPECTION_CLIENT_ID && env.INTROSPECTION_CLIENT_SECRET
        ? { clientId: env.INTROSPECTION_CLIENT_ID, clientSecret: env.INTROSPECTION_CLIENT_SECRET }
        : undefined,
    upstream: {
      issuer: env.UPSTREAM_ISSUER,
      internalUrl: env.UPSTREAM_INTERNAL_URL,
      exchangeClient:
        env.TOKEN_EXCHANGE_CLIENT_ID && env.TOKEN_EXCHANGE_CLIENT_SECRET
          ? { clientId: env.TOKEN_EXCHANGE_CLIENT_ID, clientSecret: env.TOKEN_EXCHANGE_CLIENT_SECRET }
          : undefined,
    },
    /** Origins allowed to call /mcp from a browser; `'*'` allows any. */
    allowedOrigins: env.ALLOWED_ORIGINS.includes('*') ? ('*' as const) : [...new Set([resource.origin, ...env.ALLOWED_ORIGINS])],
    redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : undefined,
    shutdownGraceMs: env.SHUTDOWN_GRACE_SECONDS * 1000,
    revokedGrants: revokedGrantsSource(env),
    store: storeChoice(env),
    metrics: metricsConfig(env),
    legacySse: legacySseConfig(env, resource.pathname),
  };
}

function storeChoice(env: z.infer<typeof configSchema>): StoreChoice {
  const redis = redisTarget(env);
  const kind = env.STORE ?? (redis ? 'redis' : 'sqlite');
  if (kind === 'redis') return { kind, ...redis!, keyPrefix: env.REDIS_KEY_PREFIX };
  return kind === 'sqlite' ? { kind, path: resolve(env.SQLITE_PATH) } : { kind };
}

function revokedGrantsSource(env: z.infer<typeof configSchema>): { kind: 'redis'; target: RedisTarget } | { kind: 'sqlite'; path: string } | { kind: 'off' } {
  // The notes' Redis (one server, Sentinel or Cluster) unless REVOKED_GRANTS_REDIS_URL names another.
  const target = env.REVOKED_GRANTS_REDIS_URL ? { url: env.REVOKED_GRANTS_REDIS_URL } : redisTarget(env);
  const kind = env.REVOKED_GRANTS === 'auto' ? (target ? 'redis' : 'sqlite') : env.REVOKED_GRANTS;
  if (kind === 'redis') return target ? { kind, target } : { kind: 'off' };
  return kind === 'sqlite' ? { kind, path: resolve(env.REVOKED_GRANTS_SQLITE_PATH) } : { kind };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An empty variable is unset: `PORT=` means the default port, not port 0. */
function withoutEmptyVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(withoutEmptyVariables(env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid resource-server configuration:\n${lines.join('\n')}`);
  }
  if (Boolean(parsed.data.TOKEN_EXCHANGE_CLIENT_ID) !== Boolean(parsed.data.TOKEN_EXCHANGE_CLIENT_SECRET)) {
    throw new ConfigError('invalid resource-server configuration:\n  TOKEN_EXCHANGE_CLIENT_ID, TOKEN_EXCHANGE_CLIENT_SECRET: set both or neither');
  }
  if (parsed.data.TOKEN_VERIFIER === 'introspection' && !(parsed.data.INTROSPECTION_CLIENT_ID && parsed.data.INTROSPECTION_CLIENT_SECRET)) {
    throw new ConfigError(
      'invalid resource-server configuration:\n  INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET: must be set when TOKEN_VERIFIER=introspection',
    );
  }
  const redisProblem = redisTargetProblem(parsed.data);
  if (redisProblem) throw new ConfigError(`invalid resource-server configuration:\n  ${redisProblem}`);
  if (parsed.data.STORE === 'redis' && !redisTarget(parsed.data)) {
    throw new ConfigError('invalid resource-server configuration:\n  REDIS_URL: must be set when STORE=redis (or REDIS_SENTINELS, or REDIS_CLUSTER_NODES)');
  }
  return toConfig(parsed.data);
}
