import { SCOPES } from '../config.ts';
import type { McpOperation } from './operation.ts';

/**
 * Which scopes each MCP operation needs: reading tools needs mcp:tools, the
 * write tools need notes:write as well; resources and prompts need their own scope.
 * Protocol plumbing (initialize, ping, notifications, server/discover, …) needs only a
 * valid token for this resource. Unknown tools need mcp:tools (the SDK answers them).
 */

export const TOOL_SCOPES: Readonly<Record<string, readonly string[]>> = {
  whoami: [SCOPES.tools],
  notes_list: [SCOPES.tools],
  notes_add: [SCOPES.tools, SCOPES.notesWrite],
  notes_delete: [SCOPES.tools, SCOPES.notesWrite],
  upstream_profile: [SCOPES.tools, SCOPES.upstreamRead],
};

const METHOD_SCOPES: Readonly<Record<string, readonly string[]>> = {
  'tools/list': [SCOPES.tools],
  'resources/list': [SCOPES.resources],
  'resources/templates/list': [SCOPES.resources],
  'resources/read': [SCOPES.resources],
  'resources/subscribe': [SCOPES.resources],
  'resources/unsubscribe': [SCOPES.resources],
  'prompts/list': [SCOPES.prompts],
  'prompts/get': [SCOPES.prompts],
};

export function scopesFor(operation: McpOperation): readonly string[] {
  if (operation.method === 'tools/call') return TOOL_SCOPES[operation.name ?? ''] ?? [SCOPES.tools];
  if (operation.method === 'completion/complete') {
    if (operation.refType === 'ref/prompt') return [SCOPES.prompts];
    if (operation.refType === 'ref/resource') return [SCOPES.resources];
    return [];
  }
  return METHOD_SCOPES[operation.method] ?? [];
}

/** Every scope the operations need together, in the order of SCOPES: the challenge names them all at once. */
export function requiredScopes(operations: readonly McpOperation[]): string[] {
  const needed = new Set(operations.flatMap(scopesFor));
  return Object.values(SCOPES).filter((scope) => needed.has(scope));
}

export function hasScopes(granted: readonly string[], required: readonly string[]): boolean {
  return required.every((scope) => granted.includes(scope));
}
