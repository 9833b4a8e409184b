import cors from '@fastify/cors';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, type AuthInfo } from '@modelcontextprotocol/server';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { wwwAuthenticate } from './auth/challenge.ts';
import { AuthServerUnavailableError, InvalidTokenError, type TokenVerifier } from './auth/verify.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { protectedResourceMetadata } from './metadata.ts';
import { buildMcpServer } from './mcp/server.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthInfo;
  }
}

export interface AppDeps {
  config: Config;
  verifier: TokenVerifier;
  logger: Logger;
}

/** Fastify app, in order: CORS, metadata, health, then the bearer-protected MCP endpoint. */
export async function createApp({ config, verifier, logger }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, bodyLimit: config.bodyLimit });

  // Browser clients (MCP Inspector) call cross-origin with bearer tokens, no cookies.
  await app.register(cors, {
    origin: true,
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'accept', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id', 'mcp-method', 'mcp-name'],
    exposedHeaders: ['www-authenticate', 'mcp-session-id', 'mcp-protocol-version'],
    maxAge: 600,
  });

  const metadata = protectedResourceMetadata(config);
  const metadataPath = new URL(config.resourceMetadataUrl).pathname;
  for (const path of new Set([metadataPath, '/.well-known/oauth-protected-resource'])) {
    app.get(path, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(metadata));
  }

  app.get('/healthz', async () => ({ status: 'ok' }));

  const challenge = (reply: FastifyReply, status: number, error?: InvalidTokenError) => {
    const header = wwwAuthenticate({
      resourceMetadataUrl: config.resourceMetadataUrl,
      scopes: config.challengeScopes,
      ...(error ? { error: 'invalid_token' as const, errorDescription: error.message } : {}),
    });
    return reply
      .code(status)
      .header('www-authenticate', header)
      .send(error ? { error: 'invalid_token', error_description: error.message } : { error: 'unauthorized', error_description: 'This MCP server needs an OAuth access token.' });
  };

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i);
    if (!header) return challenge(reply, 401);
    if (!match) return challenge(reply, 401, new InvalidTokenError('The Authorization header is not a Bearer token.'));
    try {
      request.auth = { ...(await verifier.verify(match[1]!)), resourceMetadataUrl: config.resourceMetadataUrl };
    } catch (error) {
      if (error instanceof InvalidTokenError) return challenge(reply, 401, error);
      if (error instanceof AuthServerUnavailableError) {
        request.log.error({ reason: error.message }, 'cannot verify tokens: authorization server unavailable');
        return reply.code(503).header('retry-after', '5').send({ error: 'temporarily_unavailable', error_description: 'Tokens cannot be verified right now; try again shortly.' });
      }
      throw error;
    }
  };

  const mcp = createMcpHandler(buildMcpServer, {
    maxRequestBodySize: config.bodyLimit,
    onerror: (error) => logger.warn({ err: { type: error.name, message: error.message } }, 'MCP request rejected'),
  });
  const serveMcp = toNodeHandler(mcp, { maxRequestBodySize: config.bodyLimit });

  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: config.mcpPath,
    preHandler: authenticate,
    handler: async (request, reply) => {
      // The SDK writes the (possibly streamed) response itself; Fastify must keep out.
      reply.hijack();
      const raw = Object.assign(request.raw, { auth: request.auth });
      await serveMcp(raw, reply.raw, request.body);
    },
  });

  app.addHook('onClose', async () => mcp.close());
  return app;
}
