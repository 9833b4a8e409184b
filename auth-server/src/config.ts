import { z } from 'zod';

/**
 * Environment → typed configuration. Every variable is documented in the README's
 * configuration table; defaults are those of DESIGN.md so `pnpm start` needs none.
 */

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** An issuer or resource URL is compared as a string: keep it without a trailing slash. */
const identifierUrl = url.transform((value) => value.replace(/\/+$/, ''));

const csv = z
  .string()
  .transform((value) => value.split(/[\s,]+/).filter(Boolean));

const seconds = z.coerce.number().int().positive();

export const configSchema = z.object({
  ISSUER: identifierUrl.default('http://localhost:4000'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /** The MCP server this AS issues tokens for: the RFC 8707 resource and the token audience. */
  RESOURCE_URL: identifierUrl.default('http://localhost:3000/mcp'),
  RESOURCE_SCOPES: csv.default(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write']),
  /** Scopes granted when a client asks for none (RFC 6749 §3.3). */
  RESOURCE_DEFAULT_SCOPES: csv.default(['mcp:tools', 'mcp:resources', 'mcp:prompts']),
  ACCESS_TOKEN_TTL: seconds.default(600),

  /** The upstream OIDC IdP that users log in at (Dex in compose, dev-idp otherwise). */
  IDP_ISSUER: identifierUrl.default('http://localhost:5556/dex'),
  /** Back-channel base URL for the IdP when the issuer is not reachable from here (containers). */
  IDP_INTERNAL_URL: identifierUrl.optional(),
  IDP_CLIENT_ID: z.string().min(1).default('mcp-auth-server'),
  IDP_CLIENT_SECRET: z.string({ error: 'must be set: the auth server’s client secret at the IdP' }).min(1, 'must not be empty'),
  IDP_SCOPES: z.string().default('openid email profile'),

  /** Keys that sign cookies; the first signs, all verify. Random per process when unset. */
  COOKIE_KEYS: csv.optional(),
  /** Trust X-Forwarded-* from a TLS-terminating proxy. */
  TRUST_PROXY: z.stringbool().default(false),
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
    },
    idp: {
      issuer: env.IDP_ISSUER,
      internalUrl: env.IDP_INTERNAL_URL,
      clientId: env.IDP_CLIENT_ID,
      clientSecret: env.IDP_CLIENT_SECRET,
      scopes: env.IDP_SCOPES,
      /** Where the IdP sends the user back; must be registered at the IdP (dex/config.yaml). */
      redirectUri: `${env.ISSUER}/upstream/callback`,
    },
    cookieKeys: env.COOKIE_KEYS,
    trustProxy: env.TRUST_PROXY,
  };
}

/** Thrown with one line per bad variable, naming it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid auth-server configuration:\n${lines.join('\n')}`);
  }
  const config = toConfig(parsed.data);
  if (!config.resource.defaultScopes.every((scope) => config.resource.scopes.includes(scope))) {
    throw new ConfigError('invalid auth-server configuration:\n  RESOURCE_DEFAULT_SCOPES: must be a subset of RESOURCE_SCOPES');
  }
  return config;
}
