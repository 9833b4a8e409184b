/**
 * The README's scope tables are the registry's, so the documentation cannot drift from
 * what the gate enforces: adding a tool or a scope without rewriting them
 * (`node resource-server/src/readme-scopes.ts`) fails here.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverRegistry } from '../src/mcp/catalog.ts';
import { renderScopeTable, withScopeTable } from '../src/mcp/scope-table.ts';

const readme = readFileSync(resolve(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('the README', () => {
  it('shows the scope tables the registry renders (run node resource-server/src/readme-scopes.ts after a change)', () => {
    const rewritten = withScopeTable(readme, renderScopeTable(serverRegistry()));
    expect(rewritten, 'README.md has lost the markers of its scope table').toBeDefined();
    expect(readme).toBe(rewritten);
  });

  it('names every tool, resource and prompt with the scopes it declares', () => {
    const { tools } = serverRegistry().declarations;
    for (const tool of tools) expect(readme).toContain(`| tool \`${tool.name}\` | ${tool.scopes.map((scope: string) => `\`${scope}\``).join(', ')} |`);
    expect(readme).toContain('| resource template `notes://users/{subject}` | `mcp:resources` |');
    expect(readme).toContain('| prompt `summarize_notes` | `mcp:prompts` |');
    expect(readme).toContain('| `notes:write` | by step-up (403) | tools `notes_add`, `notes_delete` |');
  });
});
