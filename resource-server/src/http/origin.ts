import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Origin validation for the MCP endpoint (Streamable HTTP: servers MUST validate Origin
 * to stop DNS-rebinding and cross-site use of a user's browser). A request without Origin
 * comes from a non-browser client and passes; a browser request passes only from an
 * allowed origin (the configured browser clients, e.g. MCP Inspector, and this server's
 * own origin), and is answered 403 otherwise — preflights included.
 */
export function originPolicy(allowed: readonly string[] | '*') {
  const allows = (origin: string | undefined) => origin === undefined || allowed === '*' || allowed.includes(origin);

  async function checkOrigin(request: FastifyRequest, reply: FastifyReply) {
    const origin = request.headers.origin;
    if (allows(origin)) return;
    request.log.warn({ origin }, 'refused a request from a foreign origin');
    return reply.code(403).send({ error: 'forbidden_origin', error_description: `Origin ${origin} is not allowed to call this MCP server.` });
  }

  return { allows, checkOrigin };
}
