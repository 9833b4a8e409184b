import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { serverRegistry } from './mcp/catalog.ts';
import { renderScopeTable, TABLE_END, TABLE_START, withScopeTable } from './mcp/scope-table.ts';

/** Rewrites the README's scope table from the registry: `node resource-server/src/readme-scopes.ts`. */
const path = resolve(import.meta.dirname, '..', '..', 'README.md');
const readme = readFileSync(path, 'utf8');
const updated = withScopeTable(readme, renderScopeTable(serverRegistry()));
if (updated === undefined) {
  console.error(`README.md has no scope table between\n  ${TABLE_START}\nand\n  ${TABLE_END}`);
  process.exit(1);
}
if (updated === readme) console.log('README.md: the scope table is up to date');
else {
  writeFileSync(path, updated);
  console.log('README.md: scope table rewritten');
}
