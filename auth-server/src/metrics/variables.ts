import { z } from 'zod';

/**
 * The metrics listener: off unless METRICS=true; on loopback unless METRICS_HOST says
 * otherwise (a scraper in another container or pod needs 0.0.0.0), on its own port so the
 * public listener never serves it.
 */
export function metricsVariables(defaultPort: number) {
  return {
    METRICS: z.stringbool({ error: 'must be true or false' }).default(false),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(defaultPort),
  };
}

export interface MetricsConfig {
  host: string;
  port: number;
}

export function metricsConfig(env: { METRICS: boolean; METRICS_HOST: string; METRICS_PORT: number }): MetricsConfig | undefined {
  return env.METRICS ? { host: env.METRICS_HOST, port: env.METRICS_PORT } : undefined;
}
