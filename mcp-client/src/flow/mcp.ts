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
} from '@modelcontextprotocol/client';
import type { CallToolResult, Tool } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import type { Trace } from '../trace.ts';

export const CLIENT_VERSION = '0.1.0';

/** The server rejected the token (401): refresh or log in again. */
export class TokenRejected extends CliError {
  constructor(serverUrl: URL, cause: unknown) {
    super('token_rejected', `${serverUrl.href} rejected the access token (401).`, { hint: 'Run `mcp-client login <url>` again.', cause });
  }
}

/** The server wants more scope (403 insufficient_scope): step up. */
export class ScopeRequired extends CliError {
  readonly requiredScope: string | undefined;
  constructor(serverUrl: URL, requiredScope: string | undefined, description: string | undefined, cause: unknown) {
    super('insufficient_scope', `${serverUrl.href} needs more scope${requiredScope ? ` ("${requiredScope}")` : ''}${description ? `: ${description}` : ''} (403 insufficient_scope).`, {
      hint: requiredScope ? `Run \`mcp-client login <url> --scope "${requiredScope}"\`.` : 'Log in again with the scope the operation needs.',
      cause,
    });
    this.requiredScope = requiredScope;
  }
}

export interface McpSession {
  client: Client;
  protocolVersion: string | undefined;
  era: string | undefined;
  close(): Promise<void>;
}

function mapError(serverUrl: URL, error: unknown): unknown {
  if (error instanceof CliError) return error;
  if (error instanceof UnauthorizedError) return new TokenRejected(serverUrl, error);
  if (error instanceof InsufficientScopeError) return new ScopeRequired(serverUrl, error.requiredScope, error.errorDescription, error);
  if (error instanceof SdkHttpError) {
    if (error.code === SdkErrorCode.ClientHttpAuthentication || error.status === 401) return new TokenRejected(serverUrl, error);
    if (error.code === SdkErrorCode.ClientHttpForbidden || error.status === 403) {
      return new CliError('forbidden', `${serverUrl.href} refused the request (403).`, { hint: 'The token lacks the permission this needs.', cause: error });
    }
    return new CliError('mcp_http_error', `${serverUrl.href} answered HTTP ${error.status}: ${error.message}`, { cause: error });
  }
  if (isNetworkError(error)) return unreachable('MCP server', serverUrl, error);
  if (error instanceof SdkError) return new CliError('mcp_error', `MCP request to ${serverUrl.href} failed: ${error.message}`, { cause: error });
  return error;
}

export async function connect(serverUrl: URL, accessToken: string, trace: Trace): Promise<McpSession> {
  const client = new Client({ name: 'mcp-client', version: CLIENT_VERSION }, { versionNegotiation: { mode: 'auto' } });
  const transport = new StreamableHTTPClientTransport(serverUrl, {
    authProvider: { token: async () => accessToken },
    fetch: trace.fetch,
  });
  try {
    await client.connect(transport);
  } catch (error) {
    await client.close().catch(() => {});
    throw mapError(serverUrl, error);
  }
  return {
    client,
    protocolVersion: client.getNegotiatedProtocolVersion(),
    era: client.getProtocolEra(),
    close: () => client.close().catch(() => {}),
  };
}

export async function listTools(session: McpSession, serverUrl: URL): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  try {
    do {
      const page = await session.client.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
  } catch (error) {
    throw mapError(serverUrl, error);
  }
  return tools;
}

export async function callTool(session: McpSession, serverUrl: URL, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  try {
    return await session.client.callTool({ name, arguments: args });
  } catch (error) {
    throw mapError(serverUrl, error);
  }
}
