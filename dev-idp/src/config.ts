// Environment → typed dev-idp configuration. Defaults live here.

import { resolve } from 'node:path';
import { z } from 'zod';
import type { Env } from './dex-config.ts';

export interface DevIdpConfig {
  /** Path of the Dex configuration file to serve. */
  dexConfigPath: string;
  host: string;
  /** Undefined: use the port of the Dex issuer. */
  port: number | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
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
});

export function loadConfig(env: Env = process.env): DevIdpConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const { DEX_CONFIG, HOST, PORT, LOG_LEVEL } = parsed.data;
  return {
    dexConfigPath: resolve(DEX_CONFIG),
    host: HOST,
    port: PORT,
    logLevel: LOG_LEVEL,
  };
}
