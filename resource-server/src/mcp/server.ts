import { McpServer, type McpRequestContext } from '@modelcontextprotocol/server';
import { callerOf } from '../auth/verifier.ts';
import type { Upstream } from '../upstream/index.ts';
import type { NotesStore } from './notes/store.ts';
import type { Registry } from './registry.ts';

/**
 * One McpServer per request (the SDK's stateless model), built for the verified caller:
 * tools, resources and prompts close over the caller, so identity cannot leak between
 * requests and no argument can name another user. What is registered is the registry's,
 * whose scopes the bearer gate has already enforced.
 */
export function mcpServerFactory(registry: Registry, notes: NotesStore, upstream: Upstream) {
  return function buildMcpServer(ctx: McpRequestContext): McpServer {
    const server = new McpServer(
      { name: 'mcp-oauth-reference', version: '0.1.0' },
      { instructions: 'Tools of this server act as the signed-in user; whoami shows who that is. Notes are private to each user.' },
    );
    registry.register(server, { caller: callerOf(ctx.authInfo), auth: ctx.authInfo!, notes, upstream });
    return server;
  };
}
