import {
  ResourceTemplate,
  UriTemplate,
  type ListResourcesCallback,
  type McpServer,
  type PromptCallback,
  type ReadResourceCallback,
  type ReadResourceTemplateCallback,
  type ResourceMetadata,
  type StandardSchemaWithJSON,
  type ToolAnnotations,
  type ToolCallback,
} from '@modelcontextprotocol/server';
import { scopePolicy, type ScopePolicy, type ScopeTable } from '../auth/scopes.ts';
import type { RequestContext } from './context.ts';

/**
 * One registry of what this server offers, each entry with the scopes it needs, checked and
 * turned into the bearer gate's table once at start-up. The same registry registers the
 * entries on each request's McpServer, and gives the protected resource metadata its
 * `scopes_supported`, the 401 challenge its `scope=` and the README its scope table, so
 * none of them can name a tool the others do not know. An entry without scopes does not
 * register: nothing falls back to a default scope.
 */

export interface ScopeDeclaration {
  name: string;
  /** Named in the 401 challenge, so clients ask for it at their first authorization; the others come by step-up (403) when an operation needs them. */
  upFront: boolean;
}

/** A tool: its scopes, what tools/list shows of it, and its handler, built per request for that request's caller. */
export interface ToolDeclaration<In extends StandardSchemaWithJSON | undefined = undefined, Out extends StandardSchemaWithJSON = StandardSchemaWithJSON> {
  name: string;
  /** Every scope a call needs; the gate answers 403 naming all of them otherwise. */
  scopes: readonly string[];
  title?: string;
  description?: string;
  inputSchema?: In;
  outputSchema?: Out;
  annotations?: ToolAnnotations;
  handler: (context: RequestContext) => ToolCallback<In>;
}

interface ResourceBase {
  name: string;
  /** Every scope reading (or subscribing to) it needs. */
  scopes: readonly string[];
  metadata?: ResourceMetadata;
}

export interface FixedResourceDeclaration extends ResourceBase {
  uri: string;
  read: (context: RequestContext) => ReadResourceCallback;
}

export interface TemplateResourceDeclaration extends ResourceBase {
  /** An RFC 6570 URI template, e.g. `notes://users/{subject}`. */
  uriTemplate: string;
  /** What resources/list shows of the template, for this request's caller. */
  list?: (context: RequestContext) => ListResourcesCallback;
  read: (context: RequestContext) => ReadResourceTemplateCallback;
}

export type ResourceDeclaration = FixedResourceDeclaration | TemplateResourceDeclaration;

export interface PromptDeclaration<Args extends StandardSchemaWithJSON | undefined = undefined> {
  name: string;
  /** Every scope prompts/get needs. */
  scopes: readonly string[];
  title?: string;
  description?: string;
  argsSchema?: Args;
  handler: (context: RequestContext) => PromptCallback<Args>;
}

/* Typed declarations (the schemas type the handler's arguments); the registry checks them. */
export const defineTool = <In extends StandardSchemaWithJSON | undefined = undefined, Out extends StandardSchemaWithJSON = StandardSchemaWithJSON>(
  declaration: ToolDeclaration<In, Out>,
): AnyToolDeclaration => declaration as AnyToolDeclaration;
export function defineResource(declaration: TemplateResourceDeclaration): TemplateResourceDeclaration;
export function defineResource(declaration: FixedResourceDeclaration): FixedResourceDeclaration;
export function defineResource(declaration: ResourceDeclaration): ResourceDeclaration {
  return declaration;
}
export const definePrompt = <Args extends StandardSchemaWithJSON | undefined = undefined>(declaration: PromptDeclaration<Args>): AnyPromptDeclaration =>
  declaration as AnyPromptDeclaration;

// The registry holds entries of many argument types; each was typed where it was defined.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- no existential types: the SDK's registerTool takes no wider schema type than any
export type AnyToolDeclaration = ToolDeclaration<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above, for registerPrompt
export type AnyPromptDeclaration = PromptDeclaration<any>;

export interface Declarations {
  /** Every scope of the resource, in the order challenges and metadata name them. */
  scopes: readonly ScopeDeclaration[];
  /** What tools/list, resources/list (and templates) and prompts/list need — and a name nothing declares, which the SDK answers as unknown. */
  lists: { tools: readonly string[]; resources: readonly string[]; prompts: readonly string[] };
  tools: readonly AnyToolDeclaration[];
  resources: readonly ResourceDeclaration[];
  prompts: readonly AnyPromptDeclaration[];
}

export interface Registry {
  readonly declarations: Declarations;
  /** For `scopes_supported` in the protected resource metadata. */
  readonly scopesSupported: readonly string[];
  /** The bearer gate's decision (its 401 scopes are the up-front ones). */
  readonly policy: ScopePolicy;
  /** Registers every entry on a request's McpServer, its handlers built for that request. */
  register(server: McpServer, context: RequestContext): void;
}

export class RegistrationError extends Error {
  override name = 'RegistrationError';
}

/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export function createRegistry(declarations: Declarations): Registry {
  const order = checkScopeDeclarations(declarations.scopes);
  const used = new Set<string>();
  const scopesOf = (what: string, scopes: unknown, { allowEmpty = false } = {}): readonly string[] => {
    if (!Array.isArray(scopes) || (scopes.length === 0 && !allowEmpty)) {
      throw new RegistrationError(
        `${what} declares no scopes: name every scope it needs where it is declared (e.g. scopes: ['${order[0]}']); nothing falls back to a default scope`,
      );
    }
    for (const scope of scopes) {
      if (typeof scope !== 'string' || !order.includes(scope)) {
        throw new RegistrationError(
          `${what} needs ${JSON.stringify(scope)}, which is not a scope of this resource (${order.join(', ')}): declare it with the others first`,
        );
      }
      used.add(scope);
    }
    return order.filter((scope) => scopes.includes(scope));
  };
  const names = new Set<string>();
  const unique = (kind: string, name: unknown): string => {
    if (typeof name !== 'string' || name === '') throw new RegistrationError(`a ${kind} without a name cannot be registered`);
    if (names.has(`${kind} ${name}`)) throw new RegistrationError(`${kind} "${name}" is declared twice`);
    names.add(`${kind} ${name}`);
    return name;
  };

  const lists = {
    tools: scopesOf('tools/list', declarations.lists.tools, { allowEmpty: true }),
    resources: scopesOf('resources/list', declarations.lists.resources, { allowEmpty: true }),
    prompts: scopesOf('prompts/list', declarations.lists.prompts, { allowEmpty: true }),
  };
  const tools = new Map<string, readonly string[]>();
  for (const tool of declarations.tools) tools.set(tool.name, scopesOf(`tool "${unique('tool', tool.name)}"`, tool.scopes));
  const prompts = new Map<string, readonly string[]>();
  for (const prompt of declarations.prompts) prompts.set(prompt.name, scopesOf(`prompt "${unique('prompt', prompt.name)}"`, prompt.scopes));
  const fixed = new Map<string, readonly string[]>();
  const templates: Array<{ template: UriTemplate; scopes: readonly string[] }> = [];
  for (const resource of declarations.resources) {
    const what = `resource "${unique('resource', resource.name)}"`;
    const scopes = scopesOf(what, resource.scopes);
    if ('uriTemplate' in resource) {
      templates.push({ template: new UriTemplate(resource.uriTemplate), scopes });
    } else {
      const uri = normalizedUri(resource.uri);
      if (uri === undefined) throw new RegistrationError(`${what} has a URI that is not a URL: ${resource.uri}`);
      if (fixed.has(uri)) throw new RegistrationError(`${what}: another resource has the URI ${uri}`);
      fixed.set(uri, scopes);
    }
  }
  const unused = order.filter((scope) => !used.has(scope));
  if (unused.length)
    throw new RegistrationError(`scope ${unused.join(', ')} is declared but nothing needs it: scopes_supported would promise what no operation grants`);

  const table: ScopeTable = {
    order,
    upFront: declarations.scopes.filter((scope) => scope.upFront).map((scope) => scope.name),
    lists,
    tools,
    prompts,
    // Looked up as the SDK serves resources/read: the URL-normalized URI, fixed URIs first, then templates in order.
    resourceScopes(raw) {
      const uri = normalizedUri(raw);
      if (uri === undefined) return undefined;
      const scopes = fixed.get(uri);
      if (scopes) return scopes;
      try {
        return templates.find(({ template }) => template.match(uri))?.scopes;
      } catch {
        return undefined; // too long to match: the SDK refuses it too
      }
    },
  };

  return {
    declarations,
    scopesSupported: order,
    policy: scopePolicy(table),
    register(server, context) {
      for (const { name, scopes: _scopes, handler, ...config } of declarations.tools) server.registerTool(name, config, handler(context));
      for (const resource of declarations.resources) {
        if ('uriTemplate' in resource) {
          const template = new ResourceTemplate(resource.uriTemplate, { list: resource.list?.(context) });
          server.registerResource(resource.name, template, resource.metadata ?? {}, resource.read(context));
        } else {
          server.registerResource(resource.name, resource.uri, resource.metadata ?? {}, resource.read(context));
        }
      }
      for (const { name, scopes: _scopes, handler, ...config } of declarations.prompts) server.registerPrompt(name, config, handler(context));
    },
  };
}

function checkScopeDeclarations(scopes: readonly ScopeDeclaration[]): readonly string[] {
  const order: string[] = [];
  for (const { name } of scopes) {
    if (typeof name !== 'string' || !SCOPE_TOKEN.test(name)) throw new RegistrationError(`scope ${JSON.stringify(name)} is not an OAuth scope-token`);
    if (order.includes(name)) throw new RegistrationError(`scope "${name}" is declared twice`);
    order.push(name);
  }
  return order;
}

function normalizedUri(raw: string): string | undefined {
  try {
    return new URL(raw).toString();
  } catch {
    return undefined;
  }
}
