import { summarizeNotes } from './prompts/summarize-notes.ts';
import { createRegistry, type Registry } from './registry.ts';
import { userNotes } from './resources/notes.ts';
import { notesAdd, notesDelete, notesList } from './tools/notes.ts';
import { upstreamProfile } from './tools/upstream-profile.ts';
import { whoami } from './tools/whoami.ts';

/**
 * Everything this MCP server offers and the scopes of this resource — the one place to add
 * a tool, resource, prompt or scope (README: "Add a tool"). The auth server's default
 * RESOURCE_SCOPES lists the same scopes (a test holds them equal).
 */
export function serverRegistry(): Registry {
  return createRegistry({
    // In the order challenges and metadata name them.
    scopes: [
      { name: 'mcp:tools', upFront: true },
      { name: 'mcp:resources', upFront: true },
      { name: 'mcp:prompts', upFront: true },
      { name: 'notes:write', upFront: false },
      { name: 'upstream:read', upFront: false },
    ],
    lists: { tools: ['mcp:tools'], resources: ['mcp:resources'], prompts: ['mcp:prompts'] },
    tools: [whoami, notesList, notesAdd, notesDelete, upstreamProfile],
    resources: [userNotes],
    prompts: [summarizeNotes],
  });
}
