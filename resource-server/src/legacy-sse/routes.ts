import { randomUUID } from 'node:crypto';
import { parseJSONRPCMessage, type JSONRPCMessage, type McpRequestContext, type McpServer } from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from '../auth/verifier.ts';
import { jsonRpcBodyErrors } from '../http/json-body.ts';
import type { Logger } from '../log.ts';
import { LegacySseSession, type Revocations } from './session.ts';
import { LegacySseSessions } from './sessions.ts';
import { SseServerTransport } from './transport.ts';
import type { LegacySseConfig } from './variables.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** With LEGACY_SSE=true: the open HTTP+SSE sessions (tests call `sweep()` after moving the clock). */
    legacySse?: LegacySseSessions;
  }
}

export interface LegacySseDeps {
  config: LegacySseConfig;
  /** The bearer gate of /mcp: the same authentication, scope decision and 403 step-up on every request. */
  gate: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** The factory /mcp builds its servers with, here once per session for the session's caller. */
  buildMcpServer: (ctx: McpRequestContext) => McpServer;
  revoked?: Revocations | undefined;
  logger: Logger;
}

/**
 * The deprecated HTTP+SSE transport (MCP 2024-11-05), for clients that speak nothing newer:
 * `GET <resource>/sse` opens a stream whose first event names the endpoint, and
 * `POST <resource>/messages?sessionId=…` carries the client's messages, answered 202 while
 * the replies go down the stream. Both pass the bearer gate (and the Origin check, app.ts)
 * exactly as /mcp does; a POST then reaches only a session of its own subject and client.
 */
export function registerLegacySse(app: FastifyInstance, { config, gate, buildMcpServer, revoked, logger }: LegacySseDeps) {
  const sessions = new LegacySseSessions({ limits: config, revoked, logger });
  sessions.start();
  app.decorate('legacySse', sessions);
  // Before the HTTP server closes: it would otherwise wait for these streams forever.
  app.addHook('preClose', async () => sessions.closeAll());

  app.get(config.ssePath, { preHandler: gate }, async (request, reply) => {
    const caller = callerOf(request.auth);
    const refusal = sessions.refusal(caller.subject);
    if (refusal === 'shutting_down') {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'temporarily_unavailable', error_description: 'This server is shutting down; connect again.' });
    }
    if (refusal) {
      const description =
        refusal === 'too_many_sessions'
          ? 'This server holds as many SSE sessions as it may.'
          : 'You hold as many SSE sessions as one user may; close one first.';
      return reply.code(429).send({ error: refusal, error_description: description });
    }

    const id = randomUUID();
    // Headers already on the reply (CORS) go with the stream, which Fastify no longer writes.
    const headers = Object.fromEntries(
      Object.entries(reply.getHeaders()).filter((entry): entry is [string, string | number | string[]] => entry[1] !== undefined),
    );
    reply.hijack();
    const transport = new SseServerTransport(reply.raw, { sessionId: id, endpoint: `${config.messagesPath}?sessionId=${id}`, headers });
    const session = new LegacySseSession(id, request.auth!, transport, Date.now());
    const server = buildMcpServer({ era: 'legacy', authInfo: session.authInfo });
    session.server = server;
    sessions.add(session);
    try {
      await server.connect(transport);
    } catch (error) {
      request.log.error({ err: { type: (error as Error).name, message: (error as Error).message } }, 'could not start a legacy SSE session');
      await session.close();
    }
  });

  app.post(config.messagesPath, { preHandler: gate, errorHandler: jsonRpcBodyErrors }, async (request, reply) => {
    const sessionId = (request.query as Record<string, unknown> | undefined)?.sessionId;
    if (typeof sessionId !== 'string' || sessionId === '') {
      return reply.code(400).send({
        error: 'invalid_request',
        error_description: `The sessionId query parameter is missing: POST to the endpoint the ${config.ssePath} stream announced.`,
      });
    }
    // Another user's session, another client's, an ended one and an unknown id: one answer.
    const session = sessions.find(sessionId, callerOf(request.auth));
    if (!session) {
      return reply.code(404).send({ error: 'session_not_found', error_description: `No such session: open one with GET ${config.ssePath}.` });
    }
    const messages = jsonRpcMessages(request.body);
    if (!messages) {
      return reply.code(400).send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: the body is not a JSON-RPC message.' } });
    }
    session.accept(request.auth!, Date.now());
    for (const message of messages) session.transport.deliver(message, request.auth!);
    return reply.code(202).send();
  });
}

/** A JSON-RPC message, or a non-empty batch of them (2025-03-26); undefined when the body is neither. */
function jsonRpcMessages(body: unknown): JSONRPCMessage[] | undefined {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) return undefined;
  try {
    return items.map((item) => parseJSONRPCMessage(item));
  } catch {
    return undefined;
  }
}
