/**
 * Small helpers for the resource-server tests: raw MCP requests over HTTP (so every status
 * and header is visible) in either protocol era, and a resource server started against a
 * stand-in AS.
 */
import { pino, type Logger } from 'pino';
import type { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { freePort } from '../../test-support/stack.ts';
import { loadConfig } from '../src/config.ts';
import type { Note } from '../src/mcp/notes/store.ts';
import { startResourceServer, type RunningResourceServer } from '../src/server.ts';

export const MODERN = '2026-07-28';

export interface McpCall {
  token?: string;
  method: string;
  params?: Record<string, unknown>;
  id?: number;
  /** `modern` (default): 2026-07-28 envelope and Mcp-* headers; `legacy`: a bare 2025 request. */
  era?: 'modern' | 'legacy';
  /** Replaces or removes (undefined) the headers the era would send. */
  headers?: Record<string, string | undefined>;
}

export interface McpResponse {
  status: number;
  headers: Headers;
  /** The JSON body, or the last JSON-RPC message of an SSE body. */
  body: JsonRpcBody;
}

/** What the tests read of a JSON-RPC response: its result or its error, whichever the test expects. */
export interface JsonRpcBody {
  result: McpResult;
  error: { code: number; message: string };
}

/** The members of MCP results the tests look at. */
export interface McpResult {
  protocolVersion: string;
  serverInfo: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  tools: { name: string }[];
  resources: { uri: string }[];
  contents: { uri: string; text: string }[];
  messages: { role: string; content: { type: string; text: string; resource: { uri: string; text: string } } }[];
  content: { type: string; text: string }[];
  structuredContent: ToolOutput;
  isError?: boolean;
}

/** The members of this server's tool outputs (whoami, notes_*, upstream_profile) the tests look at. */
export interface ToolOutput {
  subject: string;
  email: string;
  clientId: string;
  scopes: string[];
  expiresAt: string;
  note: Note;
  notes: Note[];
  deleted: boolean;
  id: string;
  profile: { email: string };
}

export async function mcp(url: string, call: McpCall): Promise<McpResponse> {
  const era = call.era ?? 'modern';
  const params = { ...call.params };
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  if (era === 'modern') {
    params._meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-test', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    headers['mcp-protocol-version'] = MODERN;
    headers['mcp-method'] = call.method;
    const name = call.params?.name ?? call.params?.uri;
    if (typeof name === 'string') headers['mcp-name'] = name;
  }
  Object.assign(headers, call.headers);
  const response = await fetch(url, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    body: JSON.stringify({ jsonrpc: '2.0', id: call.id ?? 1, method: call.method, params }),
  });
  return { status: response.status, headers: response.headers, body: parseBody(await response.text(), response.headers.get('content-type')) as JsonRpcBody };
}

function parseBody(text: string, contentType: string | null): unknown {
  if (contentType?.includes('text/event-stream')) {
    const messages = text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line): unknown => JSON.parse(line.slice(5)));
    return messages.at(-1);
  }
  return text ? JSON.parse(text) : undefined;
}

/** A tool call; resolves to the JSON-RPC result (throws on a JSON-RPC error or non-200). */
export async function callTool(url: string, token: string, name: string, args: Record<string, unknown> = {}) {
  const response = await mcp(url, { token, method: 'tools/call', params: { name, arguments: args } });
  if (response.status !== 200 || response.body?.error) throw new Error(`${name}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.result;
}

/** The exact challenges this server sends. */
const UP_FRONT = 'mcp:tools mcp:resources mcp:prompts';
/** The DPoP proof algorithms the challenges name by default (DPOP_ALGS). */
export const DPOP_ALGS = 'ES256 Ed25519 EdDSA';

/** The DPoP challenge (RFC 9449 §7.1) every 401 carries beside Bearer's while DPoP is optional (the default). */
export function dpopChallenge(resourceMetadataUrl: string, options: { scopes?: string; error?: string; description?: string } = {}) {
  const error = options.error ? `error="${options.error}", ` : '';
  const description = options.description ? `, error_description="${options.description}"` : '';
  return `DPoP ${error}scope="${options.scopes ?? UP_FRONT}", algs="${DPOP_ALGS}", resource_metadata="${resourceMetadataUrl}"${description}`;
}

/** A 401 without a token: both schemes, no error. */
export function anonymousChallenge(resourceMetadataUrl: string, scopes: string = UP_FRONT) {
  return `Bearer scope="${scopes}", resource_metadata="${resourceMetadataUrl}", ${dpopChallenge(resourceMetadataUrl, { scopes })}`;
}

/** A 401 for a Bearer token that is not usable: the error in the Bearer challenge. */
export function invalidTokenChallenge(resourceMetadataUrl: string, description: string) {
  return `Bearer error="invalid_token", scope="${UP_FRONT}", resource_metadata="${resourceMetadataUrl}", error_description="${description}", ${dpopChallenge(resourceMetadataUrl)}`;
}

/** A 401 for a DPoP-scheme request: the error (invalid_token, invalid_dpop_proof, use_dpop_nonce) in the DPoP challenge. */
export function dpopErrorChallenge(resourceMetadataUrl: string, error: string, description: string) {
  return `Bearer scope="${UP_FRONT}", resource_metadata="${resourceMetadataUrl}", ${dpopChallenge(resourceMetadataUrl, { error, description })}`;
}

export function insufficientScopeChallenge(resourceMetadataUrl: string, scopes: string, description: string) {
  return `Bearer error="insufficient_scope", scope="${scopes}", resource_metadata="${resourceMetadataUrl}", error_description="${description}"`;
}

export interface TestResourceServer extends RunningResourceServer {
  mcpUrl: string;
  resourceMetadataUrl: string;
}

/** A resource server on a free port whose AS is `issuer` (a stand-in, usually). */
export async function startResourceServerFor(
  standIn: Pick<StandInAuthorizationServer, 'issuer'>,
  env: Record<string, string> = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<TestResourceServer> {
  const port = await freePort();
  const config = loadConfig({
    RESOURCE_URL: `http://127.0.0.1:${port}/mcp`,
    AUTH_SERVER_ISSUER: standIn.issuer,
    LOG_LEVEL: 'silent',
    STORE: 'memory',
    REVOKED_GRANTS: 'off',
    ...env,
  });
  const running = await startResourceServer(config, logger);
  return { ...running, mcpUrl: config.resourceUrl, resourceMetadataUrl: config.resourceMetadataUrl };
}
