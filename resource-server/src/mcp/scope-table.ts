import type { Registry } from './registry.ts';

/**
 * The README's scope tables, rendered from the registry (a test holds the README to them;
 * `node resource-server/src/readme-scopes.ts` rewrites them): per scope, when a client gets
 * it and every operation that needs it; per tool, resource and prompt, its scopes.
 */
export function renderScopeTable(registry: Registry): string {
  const { scopes, lists, tools, resources, prompts } = registry.declarations;
  const code = (names: readonly string[]) => names.map((name) => `\`${name}\``).join(', ');
  const rows = scopes.map(({ name, upFront }) => {
    const needs = (entry: { scopes: readonly string[] }) => entry.scopes.includes(name);
    const parts = [
      lists.tools.includes(name) ? '`tools/list`' : '',
      lists.resources.includes(name) ? '`resources/list`, `resources/templates/list`' : '',
      lists.prompts.includes(name) ? '`prompts/list`' : '',
      group(
        'tool',
        tools.filter(needs).map((tool) => tool.name),
      ),
      group(
        'resource',
        resources.filter(needs).map((resource) => ('uriTemplate' in resource ? resource.uriTemplate : resource.uri)),
      ),
      group(
        'prompt',
        prompts.filter(needs).map((prompt) => prompt.name),
      ),
    ].filter(Boolean);
    return `| \`${name}\` | ${upFront ? 'up front (401)' : 'by step-up (403)'} | ${parts.join('; ')} |`;
  });
  const entries = [
    ...tools.map((tool) => ({ kind: 'tool', name: tool.name, scopes: tool.scopes, about: tool.description ?? tool.title })),
    ...resources.map((resource) => ({
      kind: 'uriTemplate' in resource ? 'resource template' : 'resource',
      name: 'uriTemplate' in resource ? resource.uriTemplate : resource.uri,
      scopes: resource.scopes,
      about: resource.metadata?.description ?? resource.metadata?.title,
    })),
    ...prompts.map((prompt) => ({ kind: 'prompt', name: prompt.name, scopes: prompt.scopes, about: prompt.description ?? prompt.title })),
  ].map(({ kind, name, scopes: needed, about }) => `| ${kind} \`${name}\` | ${code(order(needed))} | ${(about ?? '').replaceAll('|', '\\|')} |`);
  return [
    ['| scope | asked for | needed by |', '| --- | --- | --- |', ...rows].join('\n'),
    ['| tool, resource or prompt | needs | what it is |', '| --- | --- | --- |', ...entries].join('\n'),
  ].join('\n\n');

  function order(needed: readonly string[]): string[] {
    return registry.scopesSupported.filter((scope) => needed.includes(scope));
  }

  function group(kind: string, names: string[]): string {
    return names.length ? `${kind}${names.length > 1 ? 's' : ''} ${code(names)}` : '';
  }
}

export const TABLE_START = '<!-- scope table: generated from resource-server/src/mcp/catalog.ts by `node resource-server/src/readme-scopes.ts` -->';
export const TABLE_END = '<!-- end of scope table -->';

/** The README with its scope table replaced; undefined when the markers are missing. */
export function withScopeTable(readme: string, table: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end < start) return undefined;
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}
