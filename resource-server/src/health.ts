import type { FastifyInstance } from 'fastify';
import type { Readiness } from './auth/verifier.ts';

export interface ReadinessCheck {
  name: string;
  check(): Promise<Readiness>;
}

/**
 * `/healthz`: the process is up (liveness). `/readyz`: it can serve — tokens can be verified
 * (signing keys cached, or the AS reachable) and, when configured, Redis answers — and it is
 * not shutting down (`draining`: load balancers stop sending new work while it finishes).
 */
export function registerHealth(app: FastifyInstance, checks: ReadinessCheck[], draining: () => boolean = () => false) {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (draining()) return reply.code(503).header('cache-control', 'no-store').send({ status: 'draining' });
    const results = await Promise.all(
      checks.map(async (entry) => [entry.name, await entry.check().catch((error: unknown) => ({ ok: false, detail: String(error) }))] as const),
    );
    const ready = results.every(([, result]) => result.ok);
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) });
  });
}
