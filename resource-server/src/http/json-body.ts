import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The JSON body parser of the resource server. Fastify's own parser (secure-json-parse:
 * `__proto__` and `constructor.prototype` refused) runs after one linear pass that bounds
 * the nesting depth: JSON nested thousands of levels deep parses, but overflows the stack of
 * whatever walks it next (the MCP SDK's schema validation answered 500). Refusals on the MCP
 * endpoint are JSON-RPC errors with HTTP 400, as a JSON-RPC client expects.
 */
export const MAX_JSON_DEPTH = 64;

export class JsonTooDeepError extends Error {
  override name = 'JsonTooDeepError';
  readonly statusCode = 400;
  constructor() {
    super(`JSON nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }
}

/** Deepest `[`/`{` nesting of a JSON text, counting brackets outside strings only; stops past `limit`. */
export function exceedsDepth(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c /* \ */) index++;
      else if (code === 0x22 /* " */) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b /* [ */ || code === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) depth--;
  }
  return false;
}

export function registerJsonBodyParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (exceedsDepth(body as string)) {
      done(new JsonTooDeepError(), undefined);
      return;
    }
    // Fastify's default JSON parser answers through done; it returns no promise to wait for.
    void parse(request, body as string, done);
  });
}

/** Route error handler for the MCP endpoint: body errors as JSON-RPC errors, anything else as before. */
export function jsonRpcBodyErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof JsonTooDeepError) {
    reply.code(400).send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Invalid Request: ${error.message}` } });
  } else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    reply.code(400).send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the body is not valid JSON.' } });
  } else reply.send(error);
}
