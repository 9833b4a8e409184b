import { McpServer, type McpRequestContext } from '@modelcontextprotocol/server';
import type { Caller } from '../auth/verify.ts';
import { registerWhoami } from './tools/whoami.ts';

/**
 * One McpServer per request (the SDK's stateless model), built for the verified caller:
 * tools close over the caller, so identity cannot leak between requests.
 */
export function buildMcpServer(ctx: McpRequestContext): McpServer {
  const caller = ctx.authInfo?.extra?.caller as Caller | undefined;
  if (!caller) throw new Error('MCP request reached the server without a verified caller');
  const server = new McpServer(
    { name: 'mcp-oauth-reference', version: '0.1.0' },
    { instructions: 'Tools of this server act as the signed-in user; whoami shows who that is.' },
  );
  registerWhoami(server, caller);
  return server;
}
