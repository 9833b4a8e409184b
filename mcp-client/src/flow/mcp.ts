/**
 * Step 7: MCP calls with the access token, through the SDK v2 Client over Streamable HTTP.
 *
 * `versionNegotiation: { mode: 'auto' }` is a Client option (not a transport option): the
 * client probes with `server/discover` and speaks 2026-07-28 when the server does, else
 * falls back to the 2025 `initialize` handshake.
 */
import {
  Client,
  InsufficientScopeError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  withDpop,
} from '@modelcontextprotocol/client';
import type { CallToolResult, DpopSession, FetchLike, Tool } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import type { Trace } from '../trace.ts';
import { parseChallenge } from './discover.ts';
import type { Challenge } from './discover.ts';

export const CLIENT_VERSION = '0.1.0';

/** The server wants a (new) token: 401, with the challenge it sent (if it was seen). */
export class TokenRejected extends CliError {
  readonly challenge: Challenge | undefined;
  constructor(serverUrl: URL, cause: unknown, challenge?: Challenge, withToken = true) {
    super(
      'token_rejected',
      withToken
        ? `${serverUrl.href} rejected the access token (401${challenge?.error ? ` ${challenge.error}` : ''}${challenge?.errorDescription ? `: ${challenge.errorDescription}` : ''}).`
        : `${serverUrl.href} requires authorization (401).`,
      { hint: 'Run `mcp-client login <url>` again.', cause },
    );
    this.challenge = challenge;
  }
}

/** The server wants more scope (403 insufficient_scope): step up. */
export class ScopeRequired extends CliError {
  readonly requiredScope: string | undefined;
  readonly challenge: Challenge | undefined;
  constructor(serverUrl: URL, requiredScope: string | undefined, description: string | undefined, cause: unknown, challenge?: Challenge) {
    super(
      'insufficient_scope',
      `${serverUrl.href} needs more scope${requiredScope ? ` ("${requiredScope}")` : ''}${description ? `: ${description}` : ''} (403 insufficient_scope).`,
      {
        hint: requiredScope ? `Run \`mcp-client login <url> --scope "${requiredScope}"\`.` : 'Log in again with the scope the operation needs.',
        cause,
      },
    );
    this.requiredScope = requiredScope;
    this.challenge = challenge;
  }
}

/** The JSON-RPC method of a request body, for display ("tools/list"). */
function rpcMethod(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as { method?: unknown };
    return typeof parsed.method === 'string' ? parsed.method : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A fetch remembering the last 401/403 challenge the MCP server sent: the SDK turns those
 * into errors without their headers, and discovery starts from them.
 */
function challengeRecorder(next: FetchLike): { fetch: FetchLike; last(): Challenge | undefined } {
  let last: Challenge | undefined;
  const fetch: FetchLike = async (input, init) => {
    const response = await next(input, init);
    if (response.status === 401 || response.status === 403) {
      last = parseChallenge(response);
      last.url = String(input);
      last.method = (init?.method ?? 'GET').toUpperCase();
      const rpc = rpcMethod(init?.body);
      if (rpc) last.rpcMethod = rpc;
    }
    return response;
  };
  return { fetch, last: () => last };
}

export interface McpSession {
  client: Client;
  protocolVersion: string | undefined;
  era: string | undefined;
  /** Maps an SDK error from this session to a CliError (with the last challenge seen). */
  mapError(error: unknown): unknown;
  close(): Promise<void>;
}

function mapError(serverUrl: URL, error: unknown, challenge?: Challenge, withToken = true): unknown {
  if (error instanceof CliError) return error;
  if (error instanceof UnauthorizedError) return new TokenRejected(serverUrl, error, challenge, withToken);
  if (error instanceof InsufficientScopeError) return new ScopeRequired(serverUrl, error.requiredScope, error.errorDescription, error, challenge);
  if (error instanceof SdkHttpError) {
    if (error.code === SdkErrorCode.ClientHttpAuthentication || error.status === 401) return new TokenRejected(serverUrl, error, challenge, withToken);
    if (error.code === SdkErrorCode.ClientHttpForbidden || error.status === 403) {
      return new CliError('forbidden', `${serverUrl.href} refused the request (403).`, { hint: 'The token lacks the permission this needs.', cause: error });
    }
    return new CliError('mcp_http_error', `${serverUrl.href} answered HTTP ${error.status}: ${error.message}`, { cause: error });
  }
  if (isNetworkError(error)) return unreachable('MCP server', serverUrl, error);
  if (error instanceof SdkError) return new CliError('mcp_error', `MCP request to ${serverUrl.href} failed: ${error.message}`, { cause: error });
  return error;
}

/**
 * An MCP session with the access token — or without one (undefined), to find out whether the
 * server asks for it. With `dpop` (a DPoP-bound token) every request carries
 * `Authorization: DPoP` and a fresh proof, and a `use_dpop_nonce` 401 is retried once with
 * the server's nonce (the SDK's withDpop, below the challenge recorder so that only the
 * answer after the retry counts).
 */
export async function connect(serverUrl: URL, accessToken: string | undefined, trace: Trace, dpop?: DpopSession): Promise<McpSession> {
  const client = new Client({ name: 'mcp-client', version: CLIENT_VERSION }, { versionNegotiation: { mode: 'auto' } });
  const recorder = challengeRecorder(dpop && accessToken !== undefined ? withDpop(dpop, () => accessToken)(trace.fetch) : trace.fetch);
  const transport = new StreamableHTTPClientTransport(serverUrl, {
    authProvider: { token: async () => accessToken },
    fetch: recorder.fetch,
  });
  const map = (error: unknown) => mapError(serverUrl, error, recorder.last(), accessToken !== undefined);
  try {
    await client.connect(transport);
  } catch (error) {
    await client.close().catch(() => {});
    throw map(error);
  }
  return {
    client,
    protocolVersion: client.getNegotiatedProtocolVersion(),
    era: client.getProtocolEra(),
    mapError: map,
    close: () => client.close().catch(() => {}),
  };
}

export async function listTools(session: McpSession): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  try {
    do {
      const page = await session.client.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
  } catch (error) {
    throw session.mapError(error);
  }
  return tools;
}

export async function callTool(session: McpSession, serverUrl: URL, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  try {
    return await session.client.callTool({ name, arguments: args });
  } catch (error) {
    throw session.mapError(error);
  }
}
