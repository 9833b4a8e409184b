// Environment → typed dev-idp configuration. Defaults live here.

import { resolve } from 'node:path';
import { z } from 'zod';
import type { Env } from './dex-config.ts';
import type { IdJagPolicy } from './id-jag.ts';

export interface DevIdpConfig {
  /** Path of the Dex configuration file to serve. */
  dexConfigPath: string;
  host: string;
  /** Undefined: use the port of the Dex issuer. */
  port: number | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** dev-idp as an enterprise IdP (ID-JAGs by token exchange): for which authorization server, and which clients. */
  idJag: IdJagPolicy;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The repository's dex/config.yaml, found from this file's location (dev-idp/src). */
export const DEFAULT_DEX_CONFIG = resolve(import.meta.dirname, '..', '..', 'dex', 'config.yaml');

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);

const schema = z.object({
  DEX_CONFIG: z.preprocess(emptyToUndefined, z.string().default(DEFAULT_DEX_CONFIG)),
  HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
  PORT: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d+$/, 'must be a port number')
      .transform(Number)
      .refine((n) => n >= 0 && n <= 65535, 'must be between 0 and 65535')
      .optional(),
  ),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  /** The authorization server ID-JAGs are issued for (its issuer): `pnpm start`'s auth server by default. */
  ID_JAG_AUDIENCE: z.preprocess(
    emptyToUndefined,
    z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL: the issuer of the authorization server ID-JAGs are for' })
      .transform((value) => value.replace(/\/+$/, ''))
      .default('http://localhost:4000'),
  ),
  /**
   * `<dev-idp client>=<its client_id at that authorization server>`, comma-separated: the
   * clients that may exchange their ID tokens for ID-JAGs, and the client each ID-JAG names.
   */
  ID_JAG_CLIENTS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('mcp-client-enterprise=mcp-enterprise-client')
      .transform((value, ctx) => {
        const clients: Record<string, string> = {};
        for (const pair of value
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean)) {
          const [here, there, ...rest] = pair.split('=').map((side) => side.trim());
          if (!here || !there || rest.length) {
            ctx.addIssue({ code: 'custom', message: `${JSON.stringify(pair)} must be <dev-idp client>=<client_id at the authorization server>` });
            continue;
          }
          if (here in clients) ctx.addIssue({ code: 'custom', message: `${here} is listed twice` });
          clients[here] = there;
        }
        return clients;
      }),
  ),
});

export function loadConfig(env: Env = process.env): DevIdpConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const { DEX_CONFIG, HOST, PORT, LOG_LEVEL, ID_JAG_AUDIENCE, ID_JAG_CLIENTS } = parsed.data;
  return {
    dexConfigPath: resolve(DEX_CONFIG),
    host: HOST,
    port: PORT,
    logLevel: LOG_LEVEL,
    idJag: { audience: ID_JAG_AUDIENCE, clients: ID_JAG_CLIENTS },
  };
}
