import { z } from 'zod';

/**
 * The deprecated HTTP+SSE transport (legacy-sse/): off unless LEGACY_SSE=true, for clients
 * that speak nothing newer. Its streams are held open, so they are bounded overall and per
 * user, and an idle one is closed.
 */
export const legacySseVariables = {
  LEGACY_SSE: z.stringbool({ error: 'must be true or false' }).default(false),
  LEGACY_SSE_MAX_SESSIONS: z.coerce.number().int().positive().default(1000),
  LEGACY_SSE_MAX_SESSIONS_PER_USER: z.coerce.number().int().positive().default(10),
  LEGACY_SSE_IDLE_SECONDS: z.coerce.number().positive().max(86_400).default(300),
};

export interface LegacySseConfig {
  /** GET here opens a stream: `<RESOURCE_URL path>/sse`. */
  ssePath: string;
  /** POST here, with `?sessionId=`, carries the client's messages: `<RESOURCE_URL path>/messages`. */
  messagesPath: string;
  maxSessions: number;
  maxSessionsPerUser: number;
  idleMs: number;
}

/**
 * Both paths sit under the resource's path: SDK clients check that the protected resource
 * (RESOURCE_URL, the tokens' audience) covers the URL they connect to, so `/sse` beside
 * `/mcp` would be refused by them (RFC 8707 resource, path-prefix match).
 */
export function legacySseConfig(
  env: { LEGACY_SSE: boolean; LEGACY_SSE_MAX_SESSIONS: number; LEGACY_SSE_MAX_SESSIONS_PER_USER: number; LEGACY_SSE_IDLE_SECONDS: number },
  mcpPath: string,
): LegacySseConfig | undefined {
  if (!env.LEGACY_SSE) return undefined;
  const base = mcpPath.replace(/\/+$/, '');
  return {
    ssePath: `${base}/sse`,
    messagesPath: `${base}/messages`,
    maxSessions: env.LEGACY_SSE_MAX_SESSIONS,
    maxSessionsPerUser: Math.min(env.LEGACY_SSE_MAX_SESSIONS_PER_USER, env.LEGACY_SSE_MAX_SESSIONS),
    idleMs: env.LEGACY_SSE_IDLE_SECONDS * 1000,
  };
}
