import { resolve } from 'node:path';
import { z } from 'zod';
import { metricsConfig, metricsVariables } from './metrics/variables.ts';
import { dpopConfig, dpopVariables } from './policies/dpop.ts';
import { redisTarget, redisTargetProblem, redisVariables, type RedisTarget } from './redis/target.ts';

/**
 * Environment → typed configuration. Every variable is documented in the README's
 * configuration table; the defaults are those of a local `pnpm start`, which needs none.
 */

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** An issuer or resource URL is compared as a string: keep it without a trailing slash. */
const identifierUrl = url.transform((value) => value.replace(/\/+$/, ''));

const csv = z.string().transform((value) => value.split(/[\s,]+/).filter(Boolean));

const seconds = z.coerce.number().int().positive();

/** Where state is kept (adapters/index.ts). */
export type StoreChoice = { kind: 'sqlite'; path: string } | ({ kind: 'redis' } & RedisTarget) | { kind: 'memory' };

export const configSchema = z.object({
  ISSUER: identifierUrl.default('http://localhost:4000'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /** The MCP server this AS issues tokens for: the RFC 8707 resource and the token audience. */
  RESOURCE_URL: identifierUrl.default('http://localhost:3000/mcp'),
  RESOURCE_SCOPES: csv.default(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write', 'upstream:read']),
  /** Scopes granted when a client asks for none (RFC 6749 §3.3). */
  RESOURCE_DEFAULT_SCOPES: csv.default(['mcp:tools', 'mcp:resources', 'mcp:prompts']),
  ACCESS_TOKEN_TTL: seconds.default(600),
  /** `jwt` (verified locally by the resource server) or `opaque` (introspected). */
  ACCESS_TOKEN_FORMAT: z.enum(['jwt', 'opaque']).default('jwt'),
  /** RESOURCE_DPOP and DPOP_NONCE_SECRET (policies/dpop.ts). */
  ...dpopVariables,

  /** The upstream OIDC IdP that users log in at (Dex in compose, dev-idp otherwise). */
  IDP_ISSUER: identifierUrl.default('http://localhost:5556/dex'),
  /** Back-channel base URL for the IdP when the issuer is not reachable from here (containers). */
  IDP_INTERNAL_URL: identifierUrl.optional(),
  IDP_CLIENT_ID: z.string().min(1).default('mcp-auth-server'),
  IDP_CLIENT_SECRET: z.string({ error: 'must be set: the auth server’s client secret at the IdP' }).min(1, 'must not be empty'),
  /** offline_access: Dex issues refresh tokens only then; dropped when the IdP does not list it. */
  IDP_SCOPES: z.string().default('openid email profile offline_access'),
  /** Names besides IDP_ISSUER that token exchange accepts as `audience` (upstream APIs that take the IdP's access token). */
  UPSTREAM_AUDIENCES: csv.default([]),

  /** Protected resources as a YAML/JSON file; replaces the RESOURCE_* variables above. */
  RESOURCES_FILE: z.string().min(1).optional(),
  /** Pre-registered clients (confidential, machine-to-machine, introspection) as a YAML/JSON file. */
  CLIENTS_FILE: z.string().min(1).optional(),
  /** Enterprise IdPs whose ID-JAGs (jwt-bearer grant, SEP-990) CLIENTS_FILE clients may redeem, as a YAML/JSON file (registry.ts). */
  ENTERPRISE_IDPS_FILE: z.string().min(1).optional(),
  /** Workload issuers (Kubernetes, SPIFFE, …) whose JWTs CLIENTS_FILE machine clients may redeem (SEP-1933), as a YAML/JSON file. */
  WORKLOAD_ISSUERS_FILE: z.string().min(1).optional(),

  /** Redis for all state, shared by several instances (one server, Sentinel or Cluster); the default store when set. */
  ...redisVariables,
  /** `sqlite` (default without REDIS_URL), `redis` (default with it) or `memory` (lost on restart). */
  STORE: z.enum(['sqlite', 'redis', 'memory'], { error: 'must be sqlite, redis or memory' }).optional(),
  /** The SQLite file of STORE=sqlite, beside the default key set. */
  SQLITE_PATH: z.string().default(resolve(import.meta.dirname, '..', '.data', 'auth-server.db')),

  /** Key set file (signing + cookie keys), generated on first start when absent. */
  KEYS_FILE: z
    .string()
    .min(1)
    .default(resolve(import.meta.dirname, '..', '.data', 'keys.json')),
  /** The key set as JSON instead of a file (e.g. from a secret manager). */
  SIGNING_KEYS: z.string().min(1).optional(),
  /** Keys that sign cookies; the first signs, all verify. Overrides the key set's. */
  COOKIE_KEYS: csv.optional(),

  REFRESH_TOKEN_TTL: seconds.default(14 * 24 * 60 * 60),
  /** Seconds during which a rotated refresh token may be used again without revoking the grant. */
  REFRESH_TOKEN_REUSE_WINDOW: z.coerce.number().int().min(0).max(300).default(5),

  /** When set, registration needs `Authorization: Bearer <this>` (RFC 7591 initial access token). */
  REGISTRATION_ACCESS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Requests per minute per client IP. */
  RATE_LIMIT_REGISTRATION: z.coerce.number().int().min(1).default(30),
  RATE_LIMIT_TOKEN: z.coerce.number().int().min(1).default(300),

  /** Client ID Metadata Documents: development switch that lets client ids on loopback hosts be fetched. */
  CIMD_ALLOW_LOOPBACK: z.stringbool().default(false),

  /** Behind a reverse proxy: read the client IP (rate limits) from X-Forwarded-For. */
  TRUST_PROXY: z.stringbool().default(false),
  /** How many proxies in front of this server append to X-Forwarded-For; entries left of them are the client's own. */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  /** On SIGTERM: seconds of answering /readyz 503 while still serving, before the listener closes (balancer reaction time). */
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(300).default(0),
  ...metricsVariables(9464),
});

export type Config = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof configSchema>) {
  const issuer = new URL(env.ISSUER);
  return {
    issuer: env.ISSUER,
    host: env.HOST,
    port: env.PORT ?? Number(issuer.port || (issuer.protocol === 'https:' ? 443 : 80)),
    logLevel: env.LOG_LEVEL,
    resource: {
      url: env.RESOURCE_URL,
      scopes: env.RESOURCE_SCOPES,
      defaultScopes: env.RESOURCE_DEFAULT_SCOPES,
      accessTokenTtl: env.ACCESS_TOKEN_TTL,
      accessTokenFormat: env.ACCESS_TOKEN_FORMAT,
      dpop: env.RESOURCE_DPOP,
    },
    dpop: dpopConfig(env),
    idp: {
      issuer: env.IDP_ISSUER,
      internalUrl: env.IDP_INTERNAL_URL,
      clientId: env.IDP_CLIENT_ID,
      clientSecret: env.IDP_CLIENT_SECRET,
      scopes: env.IDP_SCOPES,
      /** Where the IdP sends the user back; must be registered at the IdP (dex/config.yaml). */
      redirectUri: `${env.ISSUER}/upstream/callback`,
    },
    /** Token exchange `audience` values; the first is the default. */
    upstreamAudiences: [env.IDP_ISSUER, ...env.UPSTREAM_AUDIENCES.filter((name) => name !== env.IDP_ISSUER)],
    resourcesFile: env.RESOURCES_FILE,
    clientsFile: env.CLIENTS_FILE,
    enterpriseIdpsFile: env.ENTERPRISE_IDPS_FILE,
    workloadIssuersFile: env.WORKLOAD_ISSUERS_FILE,
    redisUrl: env.REDIS_URL,
    store: storeChoice(env),
    metrics: metricsConfig(env),
    keysFile: env.KEYS_FILE,
    signingKeysJson: env.SIGNING_KEYS,
    cookieKeys: env.COOKIE_KEYS,
    refreshToken: { ttl: env.REFRESH_TOKEN_TTL, reuseWindow: env.REFRESH_TOKEN_REUSE_WINDOW },
    registration: {
      initialAccessToken: env.REGISTRATION_ACCESS_TOKEN,
      ratePerMinute: env.RATE_LIMIT_REGISTRATION,
    },
    tokenRatePerMinute: env.RATE_LIMIT_TOKEN,
    cimd: { allowLoopback: env.CIMD_ALLOW_LOOPBACK },
    trustProxy: env.TRUST_PROXY,
    trustedProxyHops: env.TRUSTED_PROXY_HOPS,
    shutdownGraceMs: env.SHUTDOWN_GRACE_SECONDS * 1000,
    secureCookies: issuer.protocol === 'https:',
  };
}

function storeChoice(env: z.infer<typeof configSchema>): StoreChoice {
  const redis = redisTarget(env);
  const kind = env.STORE ?? (redis ? 'redis' : 'sqlite');
  if (kind === 'redis') return { kind, ...redis! };
  return kind === 'sqlite' ? { kind, path: resolve(env.SQLITE_PATH) } : { kind };
}

/** Thrown with one line per bad variable, naming it. */
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
    throw new ConfigError(`invalid auth-server configuration:\n${lines.join('\n')}`);
  }
  const redisProblem = redisTargetProblem(parsed.data);
  if (redisProblem) throw new ConfigError(`invalid auth-server configuration:\n  ${redisProblem}`);
  if (parsed.data.STORE === 'redis' && !redisTarget(parsed.data)) {
    throw new ConfigError('invalid auth-server configuration:\n  REDIS_URL: must be set when STORE=redis (or REDIS_SENTINELS, or REDIS_CLUSTER_NODES)');
  }
  const config = toConfig(parsed.data);
  if (!config.resource.defaultScopes.every((scope) => config.resource.scopes.includes(scope))) {
    throw new ConfigError('invalid auth-server configuration:\n  RESOURCE_DEFAULT_SCOPES: must be a subset of RESOURCE_SCOPES');
  }
  return config;
}
