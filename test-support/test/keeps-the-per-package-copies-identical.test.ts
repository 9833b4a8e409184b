/**
 * A few small modules exist in both servers, because each package is built and deployed on
 * its own (its Dockerfile copies only its own sources): opening the SQLite file, reaching Redis
 * in any topology, and the metrics listener. They must not drift apart: each pair is held
 * identical here, so a fix made in one copy fails this test until the other has it too.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

it.each([
  ['auth-server/src/adapters/sqlite-file.ts', 'resource-server/src/mcp/notes/sqlite-file.ts'],
  ['auth-server/src/redis/target.ts', 'resource-server/src/redis/target.ts'],
  ['auth-server/src/redis/client.ts', 'resource-server/src/redis/client.ts'],
  ['auth-server/src/metrics/listener.ts', 'resource-server/src/metrics/listener.ts'],
  ['auth-server/src/metrics/variables.ts', 'resource-server/src/metrics/variables.ts'],
])('%s is the same as %s', async (one, other) => {
  const [a, b] = await Promise.all([readFile(join(root, one), 'utf8'), readFile(join(root, other), 'utf8')]);
  expect(b).toBe(a);
});
