import type { FastifyInstance, FastifyRequest } from 'fastify';
import { challengedScopes, rejectionReason } from './rejection-reasons.ts';
import type { ResourceMetrics } from './registry.ts';

/** JSON-RPC methods of the MCP spec; a client's own method names are counted as `other`. */
const METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
]);

function methodOf(request: FastifyRequest): string {
  const body = request.body as { method?: unknown } | unknown[] | undefined;
  if (Array.isArray(body)) return 'batch';
  const method = body?.method ?? request.headers['mcp-method'];
  if (typeof method !== 'string') return request.method === 'POST' ? 'none' : request.method;
  if (method.startsWith('notifications/')) return 'notification';
  return METHODS.has(method) ? method : 'other';
}

/**
 * Counts every answer of the MCP endpoint once it has been sent — the bearer gate's
 * refusals and the SDK's own (hijacked) responses alike — by method and status, and from
 * the gate's challenges the rejection reasons and the scopes a step-up asked for.
 */
export function registerMcpMetrics(app: FastifyInstance, options: { mcpPath: string; scopes: readonly string[]; metrics: ResourceMetrics }) {
  const known = new Set(options.scopes);
  const { metrics } = options;
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== options.mcpPath || request.method === 'OPTIONS') return;
    reply.raw.once('finish', () => {
      const status = reply.raw.statusCode;
      metrics.mcpRequests.inc({ method: methodOf(request), status: String(status) });
      // The gate's answers keep their headers on Fastify's reply (written with writeHead, not setHeader).
      const header = reply.getHeader('www-authenticate') ?? reply.raw.getHeader('www-authenticate');
      const challenge = typeof header === 'string' ? header : undefined;
      const reason = rejectionReason(status, challenge);
      if (reason && status !== 200) metrics.tokenRejections.inc({ reason });
      if (status === 403) for (const scope of challengedScopes(challenge, known)) metrics.stepUpChallenges.inc({ scope });
    });
  });
}
