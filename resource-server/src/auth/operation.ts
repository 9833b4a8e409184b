/**
 * Which MCP operation(s) an HTTP request carries, for the scope decision made before any
 * MCP code runs. MCP 2026-07-28 clients mirror the method and the tool/prompt name or
 * resource URI into `Mcp-Method` / `Mcp-Name` headers; older clients send only the body.
 * A header that contradicts the body is refused (400, JSON-RPC -32020 HeaderMismatch), as
 * the Streamable HTTP transport requires: otherwise a gateway routing on the header and
 * this server executing the body would disagree about what was authorized.
 */

export interface McpOperation {
  method: string;
  /** `params.name` (tools/call, prompts/get) or `params.uri` (resources/*), when the method has one. */
  name?: string | undefined;
  /** completion/complete: `ref/prompt` or `ref/resource`. */
  refType?: string | undefined;
}

export type OperationsResult =
  { ok: true; operations: McpOperation[]; source: 'headers' | 'body' } | { ok: false; id: string | number | null; message: string };

export const HEADER_MISMATCH = -32020;

const NAME_SOURCE: Record<string, 'name' | 'uri'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'resources/subscribe': 'uri',
  'resources/unsubscribe': 'uri',
};

export function operationsOf(headers: { method?: string | undefined; name?: string | undefined }, body: unknown): OperationsResult {
  const messages = Array.isArray(body) ? body : body === undefined || body === null ? [] : [body];
  const operations: McpOperation[] = [];
  for (const message of messages) {
    const operation = operationOfMessage(message);
    if (operation) operations.push(operation);
  }
  if (headers.method === undefined && headers.name === undefined) return { ok: true, operations, source: 'body' };

  const single = !Array.isArray(body) && operations.length === 1 ? operations[0]! : undefined;
  const id = idOf(body);
  if (!single) return { ok: false, id, message: 'Header mismatch: Mcp-Method/Mcp-Name headers sent with a body that is not one JSON-RPC request' };
  if (headers.method !== undefined && headers.method !== single.method) {
    return { ok: false, id, message: `Header mismatch: Mcp-Method header value '${headers.method}' does not match body value '${single.method}'` };
  }
  const decoded = headers.name === undefined ? undefined : decodeHeaderValue(headers.name);
  if (headers.name !== undefined) {
    if (decoded === undefined) return { ok: false, id, message: 'Header mismatch: Mcp-Name header carries an invalid Base64 value' };
    if (single.name !== undefined && decoded !== single.name) {
      return { ok: false, id, message: `Header mismatch: Mcp-Name header value '${decoded}' does not match body value '${single.name}'` };
    }
  }
  // Headers and body agree: decide from the headers, as an intermediary would.
  const name = headers.name === undefined ? single.name : decoded;
  return { ok: true, operations: [{ ...single, method: headers.method ?? single.method, name }], source: 'headers' };
}

function operationOfMessage(message: unknown): McpOperation | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { method, params } = message as { method?: unknown; params?: unknown };
  if (typeof method !== 'string') return undefined; // a response to a server request
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  const source = NAME_SOURCE[method];
  const name = source && typeof p[source] === 'string' ? p[source] : undefined;
  const ref = p.ref as { type?: unknown } | undefined;
  const refType = method === 'completion/complete' && typeof ref?.type === 'string' ? ref.type : undefined;
  return { method, name, refType };
}

function idOf(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** The `=?base64?…?=` sentinel of Streamable HTTP header values; plain values pass through. */
export function decodeHeaderValue(value: string): string | undefined {
  const match = /^=\?base64\?(.*)\?=$/.exec(value);
  if (!match) return value;
  const encoded = match[1]!;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return undefined;
  return Buffer.from(encoded, 'base64').toString('utf8');
}
