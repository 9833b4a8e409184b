import cors from '@fastify/cors';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler } from '@modelcontextprotocol/server';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { createBearerGate } from './auth/bearer.ts';
import { createDpopCheck } from './auth/dpop/check.ts';
import type { TokenVerifier } from './auth/verifier.ts';
import type { Config } from './config.ts';
import { registerHealth } from './health.ts';
import { jsonRpcBodyErrors, registerJsonBodyParser } from './http/json-body.ts';
import { originPolicy } from './http/origin.ts';
import { registerLegacySse } from './legacy-sse/routes.ts';
import type { Revocations } from './legacy-sse/session.ts';
import { serializeRequest, type Logger } from './log.ts';
import { registerMcpMetrics } from './metrics/mcp-requests.ts';
import type { ResourceMetrics } from './metrics/registry.ts';
import { serverRegistry } from './mcp/catalog.ts';
import type { Registry } from './mcp/registry.ts';
import { mcpServerFactory } from './mcp/server.ts';
import type { NotesStore } from './mcp/notes/store.ts';
import { protectedResourceMetadata } from './metadata.ts';
import { createUpstream, type Upstream } from './upstream/index.ts';

export interface AppDeps {
  config: Config;
  verifier: TokenVerifier;
  notes: NotesStore;
  /** Upstream tokens by token exchange, for tools that call upstream APIs as the user (default: from the configuration). */
  upstream?: Upstream;
  /** What the MCP endpoint offers, with the scopes each operation needs (default: this server's, mcp/catalog.ts). */
  registry?: Registry;
  logger: Logger;
  /** True once shutdown has begun: /readyz answers 503 while in-flight work finishes. */
  draining?: () => boolean;
  metrics?: ResourceMetrics;
  /** Revoked grants (when shared with the auth server): a legacy SSE session riding on one ends. */
  revokedGrants?: Revocations | undefined;
}

/**
 * Fastify app, in order: Origin check and CORS, metadata, health, then the MCP endpoint
 * behind the bearer gate (authentication, then the per-operation scope decision).
 */
export async function createApp({
  config,
  verifier,
  notes,
  logger,
  upstream = createUpstream(config, logger),
  registry = serverRegistry(),
  draining,
  metrics,
  revokedGrants,
}: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- it sets the instance's logger type parameter to Fastify's, which the rest of the code takes
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    // While closing, requests on open keep-alive connections are still served (Fastify would
    // answer 503): the balancer may already have sent them; idle connections are closed.
    return503OnClosing: false,
    // Request logs name the path without the query string, whichever logger is passed in.
    childLoggerFactory: (parent, bindings, options) => parent.child(bindings, { ...options, serializers: { ...options.serializers, req: serializeRequest } }),
  });

  registerJsonBodyParser(app);
  if (metrics) registerMcpMetrics(app, { mcpPath: config.mcpPath, scopes: registry.scopesSupported, metrics });
  const origins = originPolicy(config.allowedOrigins);
  const metadataPath = new URL(config.resourceMetadataUrl).pathname;
  const publicPaths = new Set([metadataPath, '/.well-known/oauth-protected-resource', '/healthz', '/readyz']);

  // Foreign origins are refused before anything else, preflights included: this hook is
  // registered before the CORS plugin's, so it runs first. It keys on the route Fastify
  // resolved, not the raw path: `/%6dcp` reaches the MCP route too.
  const guardedPaths = [config.mcpPath, ...(config.legacySse ? [config.legacySse.ssePath, config.legacySse.messagesPath] : [])];
  app.addHook('onRequest', async (request, reply) => {
    if (guardedPaths.some((path) => request.routeOptions.url === path || isPreflightFor(request, path))) return origins.checkOrigin(request, reply);
  });

  // Browser clients (MCP Inspector) call cross-origin with bearer tokens, never cookies.
  // Public documents are readable from anywhere; /mcp only from allowed origins.
  await app.register(cors, {
    delegator: (request, callback) => {
      const path = request.url.split('?')[0]!;
      callback(null, {
        origin: publicPaths.has(path) ? '*' : (origin, cb) => cb(null, origins.allows(origin)),
        methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
        // Reflects the requested headers (authorization, mcp-protocol-version, mcp-method, mcp-name, mcp-param-*).
        exposedHeaders: ['www-authenticate', 'mcp-session-id', 'mcp-protocol-version', 'dpop-nonce'],
        maxAge: 600,
      });
    },
  });

  const metadata = protectedResourceMetadata(config, registry.scopesSupported);
  for (const path of new Set([metadataPath, '/.well-known/oauth-protected-resource'])) {
    app.get(path, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(metadata));
  }

  registerHealth(
    app,
    [
      { name: 'authorizationServer', check: () => verifier.readiness() },
      ...(notes.kind === 'redis' ? [{ name: 'redis', check: () => notes.readiness() }] : []),
    ],
    draining,
  );

  const mcp = createMcpHandler(mcpServerFactory(registry, notes, upstream), {
    maxRequestBodySize: config.bodyLimit,
    onerror: (error) => logger.warn({ err: { type: error.name, message: error.message } }, 'MCP request rejected'),
  });
  const serveMcp = toNodeHandler(mcp, { maxRequestBodySize: config.bodyLimit });
  // DPoP proofs' replay cache lives beside the notes (STORE); closed with the app.
  const dpop = createDpopCheck(config, logger);
  const bearerGate = createBearerGate({ config, verifier, scopes: registry.policy, dpop });

  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: config.mcpPath,
    preHandler: bearerGate,
    errorHandler: jsonRpcBodyErrors,
    handler: async (request, reply) => {
      // The SDK writes the (possibly streamed) response itself; Fastify must keep out. Headers
      // already set on the reply (CORS) would be lost with it: hand them to the raw response.
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
      reply.hijack();
      const raw = Object.assign(request.raw, { auth: request.auth });
      await serveMcp(raw, reply.raw, request.body);
    },
  });

  // Deprecated HTTP+SSE (LEGACY_SSE=true): the same gate, the same servers, one per session.
  if (config.legacySse)
    registerLegacySse(app, {
      config: config.legacySse,
      gate: bearerGate,
      buildMcpServer: mcpServerFactory(registry, notes, upstream),
      revoked: revokedGrants,
      logger,
    });

  app.addHook('onClose', async () => {
    await mcp.close();
    await notes.close();
    await dpop.close();
  });
  return app;
}

/** A CORS preflight (answered by the CORS plugin's catch-all route) for `path`, in any percent-encoded spelling. */
function isPreflightFor(request: FastifyRequest, path: string): boolean {
  if (request.method !== 'OPTIONS') return false;
  const raw = request.url.split('?')[0]!;
  try {
    return decodeURIComponent(raw) === path;
  } catch {
    return false;
  }
}
