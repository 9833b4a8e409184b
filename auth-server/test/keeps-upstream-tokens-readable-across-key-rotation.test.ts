/**
 * The encryption keys of the upstream tokens rotate like the signing keys (`pnpm admin keys` rotate /
 * promote / retire): after `rotate` and `promote` and a restart the stored tokens still
 * open, and each is sealed again with the new key as it is read, so `retire` afterwards
 * loses nothing in use. A key
 * set from before upstream tokens were kept gains an encryption key on start.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { exchangeToken } from '../../test-support/token-exchange.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'src', 'admin', 'cli.ts');

let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack({ tokenExchange: true });
  redis = new Redis(stack.authServerRedisUrl!);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const keySet = async () =>
  JSON.parse(await readFile(stack.keysFile, 'utf8')) as { signingKeys: unknown[]; cookieKeys: string[]; encryptionKeys?: { kid: string }[] };
const sealedWith = async () => {
  const keys = await redis.keys('oidc:UpstreamToken:*');
  return Promise.all(keys.map(async (key) => (JSON.parse((await redis.hget(key, 'payload'))!) as { sealed: string }).sealed.split('.')[1]));
};
const keysCli = (...args: string[]) => run(process.execPath, [cli, 'keys', ...args], { env: { ...process.env, KEYS_FILE: stack.keysFile } });

describe('encryption key rotation', () => {
  it('keeps stored upstream tokens readable through rotate, restart and retire', async () => {
    const { clientId, tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.alice,
      scope: 'mcp:tools upstream:read',
    });
    const exchange = (subjectToken = tokens.access_token) =>
      exchangeToken(stack.authServerIssuer, stack.tokenExchangeClient!, { subject_token: subjectToken, audience: stack.idpIssuer });
    const before = await exchange();
    expect(before.status).toBe(200);
    const [oldKid] = (await keySet()).encryptionKeys!.map((key) => key.kid);
    expect(await sealedWith()).toEqual([oldKid]);

    // rotate publishes a new key to every instance; promote makes it seal.
    await keysCli('rotate');
    const [stillFirst, newKid] = (await keySet()).encryptionKeys!.map((key) => key.kid);
    expect(stillFirst).toBe(oldKid);
    await stack.restartAuthServer();
    expect((await exchange()).body.access_token).toBe(before.body.access_token);
    expect(await sealedWith()).toEqual([oldKid]);
    await keysCli('promote');
    await stack.restartAuthServer();
    const afterRotate = await exchange();
    expect(afterRotate.body.access_token).toBe(before.body.access_token);
    expect(await sealedWith()).toEqual([newKid]);

    // Retiring drops the old signing key too: the user's client refreshes to a token signed with the new one.
    const refreshed = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    await keysCli('retire', '1');
    expect((await keySet()).encryptionKeys!.map((key) => key.kid)).toEqual([newKid]);
    await stack.restartAuthServer();
    expect((await exchange(String(refreshed.body.access_token))).body.access_token).toBe(before.body.access_token);
  });

  it('adds an encryption key to a key set that has none', async () => {
    const { encryptionKeys: _dropped, ...legacy } = await keySet();
    await writeFile(stack.keysFile, JSON.stringify(legacy));
    await stack.restartAuthServer();
    expect((await keySet()).encryptionKeys).toHaveLength(1);
  });
});
