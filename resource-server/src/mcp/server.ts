import { McpServer, type McpRequestContext } from '@modelcontextprotocol/server';
import { callerOf } from '../auth/verifier.ts';
import type { NotesStore } from './notes/store.ts';
import { registerSummarizeNotesPrompt } from './prompts/summarize-notes.ts';
import { registerNotesResource } from './resources/notes.ts';
import { registerNotesTools } from './tools/notes.ts';
import { registerUpstreamProfile } from './tools/upstream-profile.ts';
import { registerWhoami } from './tools/whoami.ts';
import type { Upstream } from '../upstream/index.ts';

/**
 * One McpServer per request (the SDK's stateless model), built for the verified caller:
 * tools, resources and prompts close over the caller, so identity cannot leak between
 * requests and no argument can name another user.
 */
export function mcpServerFactory(store: NotesStore, upstream: Upstream) {
  return function buildMcpServer(ctx: McpRequestContext): McpServer {
    const caller = callerOf(ctx.authInfo);
    const server = new McpServer(
      { name: 'mcp-oauth-reference', version: '0.1.0' },
      { instructions: 'Tools of this server act as the signed-in user; whoami shows who that is. Notes are private to each user.' },
    );
    registerWhoami(server, caller);
    registerNotesTools(server, caller, store);
    registerNotesResource(server, caller, store);
    registerSummarizeNotesPrompt(server, caller, store);
    registerUpstreamProfile(server, ctx.authInfo!, upstream);
    return server;
  };
}
