import type { McpOperation } from './operation.ts';

/**
 * The gate's scope decision, from a table the registry of tools, resources and prompts
 * builds once at start-up (mcp/registry.ts): a lookup per operation, nothing computed per
 * request. Protocol plumbing (initialize, ping, notifications, server/discover, …) needs
 * only a valid token for this resource.
 */

export interface ScopeTable {
  /** Every scope of the resource, in the order challenges name them. */
  order: readonly string[];
  /** Named in the 401 challenge: what a client asks for at its first authorization. */
  upFront: readonly string[];
  /** What listing each kind needs — and calling, reading or getting a name nothing declares (the SDK answers it as unknown). */
  lists: { tools: readonly string[]; resources: readonly string[]; prompts: readonly string[] };
  /** Declared scopes by tool name, by prompt name, and by resource URI (templates are matched). */
  tools: ReadonlyMap<string, readonly string[]>;
  prompts: ReadonlyMap<string, readonly string[]>;
  resourceScopes(uri: string): readonly string[] | undefined;
}

export interface ScopePolicy {
  /** The scopes of the 401 challenge. */
  readonly upFront: readonly string[];
  /** Every scope the operations need together, in table order: the 403 challenge names them all at once. */
  required(operations: readonly McpOperation[]): readonly string[];
}

const RESOURCE_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

export function scopePolicy(table: ScopeTable): ScopePolicy {
  const none: readonly string[] = [];
  const scopesFor = (operation: McpOperation): readonly string[] => {
    const { method, name } = operation;
    if (method === 'tools/call') return (name !== undefined && table.tools.get(name)) || table.lists.tools;
    if (method === 'prompts/get') return (name !== undefined && table.prompts.get(name)) || table.lists.prompts;
    if (RESOURCE_METHODS.has(method)) return (name !== undefined && table.resourceScopes(name)) || table.lists.resources;
    if (method === 'tools/list') return table.lists.tools;
    if (method === 'resources/list' || method === 'resources/templates/list') return table.lists.resources;
    if (method === 'prompts/list') return table.lists.prompts;
    if (method === 'completion/complete') {
      if (operation.refType === 'ref/prompt') return table.lists.prompts;
      if (operation.refType === 'ref/resource') return table.lists.resources;
    }
    return none;
  };
  return {
    upFront: table.upFront,
    required(operations) {
      // One operation (every 2026-07-28 request): its declared scopes, already in table order.
      if (operations.length === 1) return scopesFor(operations[0]!);
      const needed = new Set(operations.flatMap(scopesFor));
      return table.order.filter((scope) => needed.has(scope));
    },
  };
}

export function hasScopes(granted: readonly string[], required: readonly string[]): boolean {
  return required.every((scope) => granted.includes(scope));
}
