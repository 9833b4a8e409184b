/**
 * `pnpm start` and `pnpm client` on a Node older than 24 stop with one line saying which
 * Node is needed, instead of a loader error about `.ts` files. The older Node is simulated by
 * overriding process.versions before the check runs (the check reads nothing else).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const check = resolve(import.meta.dirname, '..', 'require-node.mjs');

async function asNode(version: string) {
  const preload = join(await mkdtemp(join(tmpdir(), 'node-version-')), 'pretend.mjs');
  await writeFile(preload, `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)} });\n`);
  return run(process.execPath, ['--import', preload, check]).then(
    (done) => ({ code: 0, stderr: done.stderr }),
    (error: unknown) => {
      const failed = error as { code: number; stderr: string };
      return { code: failed.code, stderr: failed.stderr };
    },
  );
}

describe('the Node version check', () => {
  it('stops an older Node with one line naming the version needed and the one found', async () => {
    const { code, stderr } = await asNode('20.20.2');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('needs Node.js 24 or newer; this is Node 20.20.2');
  });

  it('lets Node 24 through silently', async () => {
    expect(await asNode('24.21.0')).toEqual({ code: 0, stderr: '' });
  });
});
