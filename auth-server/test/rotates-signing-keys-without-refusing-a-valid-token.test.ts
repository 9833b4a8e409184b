/**
 * A signing key rotation in three stages never makes a resource server refuse a valid
 * token: `rotate` publishes the new key without signing with it, `promote` (after the
 * resource servers' JWKS max age) makes it sign, `retire` (after the token lifetime) drops
 * the old one. Two real resource servers behind one resource URL, with a long JWKS cooldown
 * (so an unknown kid would be refused until it passes), check every token at every stage.
 * The clock is moved, never waited for.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';
import { startResourceServer, type RunningResourceServer } from '../../resource-server/src/server.ts';
import { freePort } from '../../test-support/ports.ts';
import { startStack, type Stack } from '../../test-support/stack.ts';
import { loadKeys } from '../src/keys.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'src', 'admin', 'cli.ts');
const SECRET = 'rotation-machine-secret-0123456789';
const JWKS = { JWKS_COOLDOWN_SECONDS: '300', JWKS_MAX_AGE_SECONDS: '60', TOKEN_CACHE_SECONDS: '0' };

let stack: Stack;
let second: RunningResourceServer;
let secondUrl: string;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rotation-'));
  const clientsFile = join(dir, 'clients.yaml');
  await writeFile(
    clientsFile,
    ['clients:', '  - client_id: rotation-check', `    client_secret: ${SECRET}`, '    grant_types: [client_credentials]'].join('\n'),
  );
  stack = await startStack({ authServerStorage: 'memory', authServerEnv: { CLIENTS_FILE: clientsFile }, resourceServerEnv: JWKS });
  const port = await freePort();
  secondUrl = `http://127.0.0.1:${port}/mcp`;
  second = await startResourceServer(
    loadResourceConfig({
      RESOURCE_URL: stack.mcpUrl,
      PORT: String(port),
      AUTH_SERVER_ISSUER: stack.authServerIssuer,
      STORE: 'memory',
      LOG_LEVEL: 'silent',
      ...JWKS,
    }),
    pino({ level: 'silent' }),
  );
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterAll(async () => {
  vi.useRealTimers();
  await second?.close();
  await stack?.close();
});

const advance = (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000);
const keysCli = (...args: string[]) => run(process.execPath, [cli, 'keys', ...args], { env: { ...process.env, KEYS_FILE: stack.keysFile } });

async function token(): Promise<string> {
  const response = await fetch(`${stack.authServerIssuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`rotation-check:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: stack.mcpUrl }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** HTTP status of tools/list at each resource server. */
async function statuses(accessToken: string) {
  const call = async (url: string) =>
    (
      await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      })
    ).status;
  return [await call(stack.mcpUrl), await call(secondUrl)];
}

describe('staged signing key rotation', () => {
  it('rotate, promote, retire: every valid token is accepted by both resource servers at every stage', async () => {
    const first = await token();
    const oldKid = decodeProtectedHeader(first).kid;
    expect(await statuses(first)).toEqual([200, 200]); // both have fetched the JWKS now

    await keysCli('rotate');
    await stack.restartAuthServer();
    const afterRotate = await token();
    expect(decodeProtectedHeader(afterRotate).kid).toBe(oldKid); // published, not signing
    expect(await statuses(afterRotate)).toEqual([200, 200]);
    expect(await statuses(first)).toEqual([200, 200]);

    advance(61); // the resource servers' JWKS max age: both refresh and see the new key
    expect(await statuses(afterRotate)).toEqual([200, 200]);

    await keysCli('promote');
    await stack.restartAuthServer();
    const afterPromote = await token();
    const newKid = decodeProtectedHeader(afterPromote).kid;
    expect(newKid).not.toBe(oldKid);
    // Within the JWKS cooldown of their last fetch, yet the new kid is known: no refusal.
    expect(await statuses(afterPromote)).toEqual([200, 200]);
    expect(await statuses(afterRotate)).toEqual([200, 200]); // the old key still verifies

    advance(601); // the longest token lifetime has passed
    await keysCli('retire', '1');
    await stack.restartAuthServer();
    const afterRetire = await token();
    expect(decodeProtectedHeader(afterRetire).kid).toBe(newKid);
    expect(await statuses(afterRetire)).toEqual([200, 200]);
  });

  it('refuses promote when there is nothing newer', async () => {
    await expect(keysCli('promote')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('run `keys rotate` first') });
  });
});

describe('creating the key set', () => {
  it('is exclusive: instances starting together on an empty KEYS_FILE get one key set', async () => {
    vi.useRealTimers();
    const file = join(await mkdtemp(join(tmpdir(), 'keys-race-')), 'keys.json');
    const sets = await Promise.all(Array.from({ length: 8 }, () => loadKeys({ file }, () => {})));
    const kids = new Set(sets.map((set) => set.signingKeys[0]!.kid));
    expect(kids.size).toBe(1);
    const onDisk = JSON.parse(await readFile(file, 'utf8')) as { signingKeys: { kid: string }[] };
    expect(onDisk.signingKeys.map((key) => key.kid)).toEqual([...kids]);
  });

  // The in-process case above interleaves deterministically; this one is the same race between
  // real processes, which start too unevenly to hit it every time.
  it('is exclusive across processes too', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'keys-race-')), 'keys.json');
    const script = `import { loadKeys } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'keys.ts'))}; const keys = await loadKeys({ file: ${JSON.stringify(file)} }, () => {}); console.log(keys.signingKeys[0].kid);`;
    const outputs = await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script])));
    expect(new Set(outputs.map((output) => output.stdout.trim())).size).toBe(1);
  });
});
