import { z } from 'zod';

/**
 * Environment → typed configuration. Every variable is documented in the README's
 * configuration table; defaults are those of DESIGN.md so `pnpm start` needs none.
 */

const identifierUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .transform((value) => value.replace(/\/+$/, ''));

const csv = z.string().transform((value) => value.split(/[\s,]+/).filter(Boolean));

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
  /** Largest request body accepted on /mcp, in bytes. */
  BODY_LIMIT: z.coerce.number().int().positive().default(1024 * 1024),
});

export type Config = ReturnType<typeof toConfig>;

/** Scopes of DESIGN.md: the first three are challenged up front, notes:write by step-up. */
export const SCOPES = {
  tools: 'mcp:tools',
  resources: 'mcp:resources',
  prompts: 'mcp:prompts',
  notesWrite: 'notes:write',
} as const;

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
    bodyLimit: env.BODY_LIMIT,
    scopesSupported: Object.values(SCOPES) as string[],
    challengeScopes: [SCOPES.tools, SCOPES.resources, SCOPES.prompts] as string[],
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid resource-server configuration:\n${lines.join('\n')}`);
  }
  return toConfig(parsed.data);
}
