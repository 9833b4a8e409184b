/**
 * One adapter contract, three backends: the same assertions run against the in-process
 * store, a SQLite file and a real Redis, so they cannot drift apart. Single-use codes and
 * rotated refresh tokens, grant families, the refresh reuse window, expiry, accounts, and the
 * replay records of client assertions and DPoP proofs (created at most once).
 *
 * The clock is moved, never waited for: Date is faked (the adapters stamp consumption and
 * expiry with it) and, for Redis, whose expiry runs on the server's own clock, every key's
 * TTL is shortened by the same amount (a key whose TTL runs out is deleted, as Redis would).
 *
 * The last part is end to end: two simultaneous refreshes of one refresh token at the real
 * token endpoint on each backend — exactly one rotation wins outside the reuse window.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Adapter } from 'oidc-provider';
import { AccountStore } from '../src/accounts.ts';
import { createStorage, type Storage } from '../src/adapters/index.ts';
import type { CreatesIfAbsent } from '../src/adapters/replay-detection.ts';
import { REVOKED_GRANTS_KEY } from '../src/adapters/revocations.ts';
import type { StoreChoice } from '../src/config.ts';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

const silent = pino({ level: 'silent' });

/** The revoked grants the store publishes for resource servers (adapters/revocations.ts). */
async function publishedGrants(storage: Storage): Promise<string[]> {
  if (storage.redis) return storage.redis.zrange(REVOKED_GRANTS_KEY, '0', '-1');
  const db = new DatabaseSync(storage.location!, { readOnly: true });
  try {
    return (db.prepare('SELECT grant_id FROM revoked_grants').all() as { grant_id: string }[]).map((row) => row.grant_id);
  } finally {
    db.close();
  }
}
let redis: TestRedis;
let dir: string;

beforeAll(async () => {
  [redis, dir] = await Promise.all([startRedis(), mkdtemp(join(tmpdir(), 'adapter-contract-'))]);
});
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Backend {
  name: 'memory' | 'sqlite' | 'redis';
  choice(): StoreChoice;
  /** Empties what a previous test left (Redis is one server for the whole file). */
  reset?(storage: Storage): Promise<void>;
  /** Moves the store's clock `seconds` ahead (Date is moved by the test itself). */
  advance?(storage: Storage, seconds: number): Promise<void>;
}

const backends: Backend[] = [
  { name: 'memory', choice: () => ({ kind: 'memory' }) },
  { name: 'sqlite', choice: () => ({ kind: 'sqlite', path: join(dir, `${randomUUID()}.db`) }) },
  {
    name: 'redis',
    choice: () => ({ kind: 'redis', url: redis.url }),
    reset: async (storage) => {
      await storage.redis!.flushdb();
    },
    advance: async (storage, seconds) => {
      const client = storage.redis!;
      for (const key of await client.keys('*')) {
        const ttl = await client.pttl(key);
        if (ttl < 0) continue; // no expiry
        const left = ttl - seconds * 1000;
        if (left <= 0) await client.del(key);
        else await client.pexpire(key, left);
      }
    },
  },
];

describe.each(backends)('the $name store', (backend) => {
  let storage: Storage;
  let lenient: Storage | undefined; // same data, REFRESH_TOKEN_REUSE_WINDOW=30

  async function open(refreshOverlapSeconds: number, choice = backend.choice()) {
    return createStorage({ store: choice, policy: { refreshOverlapSeconds }, logger: silent });
  }

  async function advance(seconds: number) {
    vi.setSystemTime(Date.now() + seconds * 1000);
    await backend.advance?.(storage, seconds);
  }

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    storage = await open(0);
    await backend.reset?.(storage);
  });
  afterEach(async () => {
    vi.useRealTimers();
    await lenient?.close();
    lenient = undefined;
    await storage.close();
  });

  /** A grant with a code, an access token and a refresh token issued under it. */
  async function family(on: Storage = storage) {
    const grantId = randomUUID();
    const ids = { grantId, code: randomUUID(), accessToken: randomUUID(), refreshToken: randomUUID() };
    await on.adapter('Grant').upsert(grantId, { jti: grantId, kind: 'Grant', accountId: 'alice', clientId: 'c' }, 3600);
    await on.adapter('AuthorizationCode').upsert(ids.code, { jti: ids.code, grantId, kind: 'AuthorizationCode' }, 60);
    await on.adapter('AccessToken').upsert(ids.accessToken, { jti: ids.accessToken, grantId, kind: 'AccessToken' }, 600);
    await on.adapter('RefreshToken').upsert(ids.refreshToken, { jti: ids.refreshToken, grantId, kind: 'RefreshToken' }, 3600);
    return ids;
  }

  async function present(ids: { grantId: string; code: string; accessToken: string; refreshToken: string }, on: Storage = storage) {
    return {
      grant: Boolean(await on.adapter('Grant').find(ids.grantId)),
      code: Boolean(await on.adapter('AuthorizationCode').find(ids.code)),
      accessToken: Boolean(await on.adapter('AccessToken').find(ids.accessToken)),
      refreshToken: Boolean(await on.adapter('RefreshToken').find(ids.refreshToken)),
    };
  }

  const all = { grant: true, code: true, accessToken: true, refreshToken: true };

  it('returns what was stored, per model, as a copy, until it is destroyed', async () => {
    const clients = storage.adapter('Client');
    await clients.upsert('c1', { client_id: 'c1', redirect_uris: ['http://127.0.0.1/callback'] });
    const found = (await clients.find('c1'))!;
    expect(found).toEqual({ client_id: 'c1', redirect_uris: ['http://127.0.0.1/callback'] });
    found.client_id = 'changed by the caller';
    expect((await clients.find('c1'))!.client_id).toBe('c1');
    expect(await storage.adapter('Grant').find('c1')).toBeUndefined();
    expect(await clients.find('unknown')).toBeUndefined();

    await clients.destroy('c1');
    expect(await clients.find('c1')).toBeUndefined();
  });

  it('finds sessions by uid and device codes by user code', async () => {
    await storage.adapter('Session').upsert('s1', { uid: 'u1', accountId: 'alice' }, 600);
    await storage.adapter('DeviceCode').upsert('d1', { userCode: 'ABCD-EFGH', grantId: 'g' }, 600);
    expect(await storage.adapter('Session').findByUid('u1')).toMatchObject({ accountId: 'alice' });
    expect(await storage.adapter('DeviceCode').findByUserCode('ABCD-EFGH')).toMatchObject({ grantId: 'g' });
    expect(await storage.adapter('Session').findByUid('u2')).toBeUndefined();
    expect(await storage.adapter('Interaction').findByUid('u1')).toBeUndefined();
  });

  it('never returns a record past its expiry, by id or by index', async () => {
    // Redis's own clock keeps running meanwhile: the last check before expiry leaves it 10 s.
    await storage.adapter('AuthorizationCode').upsert('code', { grantId: 'g' }, 600);
    await storage.adapter('Session').upsert('s1', { uid: 'u1' }, 600);
    await advance(590);
    expect(await storage.adapter('AuthorizationCode').find('code')).toBeDefined();
    expect(await storage.adapter('Session').findByUid('u1')).toBeDefined();
    await advance(10);
    expect(await storage.adapter('AuthorizationCode').find('code')).toBeUndefined();
    expect(await storage.adapter('Session').find('s1')).toBeUndefined();
    expect(await storage.adapter('Session').findByUid('u1')).toBeUndefined();
    // Consuming what has expired is not a replay: nothing is there to consume.
    await expect(storage.adapter('AuthorizationCode').consume('code')).resolves.toBeUndefined();
  });

  it('takes the new expiry when a record is saved again', async () => {
    await storage.adapter('Session').upsert('s1', { uid: 'u1', n: 1 }, 10);
    await storage.adapter('Session').upsert('s1', { uid: 'u1', n: 2 }, 100);
    await advance(50);
    expect(await storage.adapter('Session').find('s1')).toEqual({ uid: 'u1', n: 2 });
    await advance(50);
    expect(await storage.adapter('Session').find('s1')).toBeUndefined();
  });

  it('consumes a code once; a second use is refused and revokes the whole grant, nothing else', async () => {
    const ids = await family();
    const other = await family();
    const codes = storage.adapter('AuthorizationCode');
    await codes.consume(ids.code);
    expect((await codes.find(ids.code))!.consumed).toEqual(expect.any(Number));
    expect(await present(ids)).toEqual(all);

    await expect(codes.consume(ids.code)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await present(ids)).toEqual({ grant: false, code: false, accessToken: false, refreshToken: false });
    expect(await present(other)).toEqual(all);
  });

  it('lets exactly one of two simultaneous consumptions of a code win', async () => {
    const ids = await family();
    const results = await Promise.allSettled([storage.adapter('AuthorizationCode').consume(ids.code), storage.adapter('AuthorizationCode').consume(ids.code)]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('without a reuse window, refuses a rotated refresh token at once and revokes its family', async () => {
    const ids = await family();
    const refreshTokens = storage.adapter('RefreshToken');
    await refreshTokens.consume(ids.refreshToken);
    expect((await refreshTokens.find(ids.refreshToken))!.consumed).toEqual(expect.any(Number));
    await expect(refreshTokens.consume(ids.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant', error_detail: 'refresh token already used' });
    expect(await present(ids)).toEqual({ grant: false, code: false, accessToken: false, refreshToken: false });
  });

  // The memory store shares its revocations with no resource server (README "Storage").
  it.runIf(backend.name !== 'memory')('publishes the grant a replay found by the store revokes, for the resource servers to refuse its tokens', async () => {
    const ids = await family();
    const refreshTokens = storage.adapter('RefreshToken');
    await refreshTokens.consume(ids.refreshToken);
    await expect(refreshTokens.consume(ids.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await publishedGrants(storage)).toContain(ids.grantId);
  });

  it('accepts a rotated refresh token again inside the reuse window, and treats it as a replay after', async () => {
    lenient = await open(30);
    const ids = await family(lenient);
    const refreshTokens = lenient.adapter('RefreshToken');
    await refreshTokens.consume(ids.refreshToken);
    await advance(30);
    // Within the window it still reads as unused, and a second use revokes nothing.
    expect((await refreshTokens.find(ids.refreshToken))!.consumed).toBeUndefined();
    await expect(refreshTokens.consume(ids.refreshToken)).resolves.toBeUndefined();
    expect(await present(ids, lenient)).toEqual(all);

    await advance(1);
    expect((await refreshTokens.find(ids.refreshToken))!.consumed).toEqual(expect.any(Number));
    await expect(refreshTokens.consume(ids.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await present(ids, lenient)).toEqual({ grant: false, code: false, accessToken: false, refreshToken: false });
  });

  it('applies the reuse window to refresh tokens only: a code is single-use inside it too', async () => {
    lenient = await open(30);
    const ids = await family(lenient);
    await lenient.adapter('AuthorizationCode').consume(ids.code);
    await expect(lenient.adapter('AuthorizationCode').consume(ids.code)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('keeps a replay record (ReplayDetection) once: of simultaneous writers on one store exactly one creates it, again only after it expired', async () => {
    const choice = backend.choice();
    const one = await open(0, choice);
    // Two instances on one SQLite file or Redis; the memory store is one process's own.
    const two = backend.name === 'memory' ? one : await open(0, choice);
    try {
      const replays = (on: Storage) => on.adapter('ReplayDetection') as Adapter & CreatesIfAbsent;
      const id = randomUUID();
      const record = { jti: id, kind: 'ReplayDetection', iss: 'client' };
      const created = await Promise.all([one, two, one, two].map((on) => replays(on).createIfAbsent(id, record, 30)));
      expect(created.filter(Boolean)).toHaveLength(1);
      expect(await replays(two).find(id)).toEqual(record);
      await advance(29);
      expect(await replays(one).createIfAbsent(id, record, 30)).toBe(false);
      await advance(2);
      expect(await replays(one).find(id)).toBeUndefined();
      expect(await replays(two).createIfAbsent(id, record, 30)).toBe(true);
    } finally {
      if (two !== one) await two.close();
      await one.close();
    }
  });

  it('revokes by grant id every record issued under the grant and nothing else', async () => {
    const ids = await family();
    const other = await family();
    await storage.adapter('AccessToken').revokeByGrantId(ids.grantId);
    // The grant record itself is oidc-provider's to destroy on this path.
    expect(await present(ids)).toEqual({ grant: true, code: false, accessToken: false, refreshToken: false });
    expect(await present(other)).toEqual(all);
  });

  it('keeps accounts without expiry and updates them on each login', async () => {
    const accounts = new AccountStore(storage.adapter('Account'));
    await accounts.upsert({ sub: 'alice-sub', email: 'alice@example.com', name: 'alice' });
    await advance(365 * 24 * 60 * 60);
    expect(await accounts.get('alice-sub')).toEqual({ sub: 'alice-sub', email: 'alice@example.com', name: 'alice' });
    await accounts.upsert({ sub: 'alice-sub', email: 'alice@example.org', name: 'Alice' });
    expect(await accounts.get('alice-sub')).toEqual({ sub: 'alice-sub', email: 'alice@example.org', name: 'Alice' });
    expect(await accounts.get('bob-sub')).toBeUndefined();
  });

  it('answers the readiness ping', async () => {
    expect(await storage.ping()).toBe(true);
    expect(storage.kind).toBe(backend.name);
  });
});

describe.each(['memory', 'sqlite', 'redis'] as const)('two simultaneous refreshes of one token at the token endpoint, %s store', (store) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ authServerStorage: store, authServerEnv: { REFRESH_TOKEN_REUSE_WINDOW: '0' } });
  });
  afterAll(() => stack?.close());

  it('rotate exactly once: one gets new tokens, the other invalid_grant', async () => {
    for (let round = 0; round < 3; round++) {
      const { clientId, tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
      const refresh = () => tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
      const results = await Promise.all([refresh(), refresh()]);
      expect(results.map((result) => result.status).sort()).toEqual([200, 400]);
      expect(results.find((result) => result.status === 400)!.body.error).toBe('invalid_grant');
    }
  });
});

// Redis is reached directly only here, to show the harness's TTL shift does what Redis does.
describe('the Redis clock shift used above', () => {
  it('deletes a key whose TTL runs out and shortens the others', async () => {
    const client = new Redis(redis.url);
    try {
      await client.set('shift:a', '1', 'EX', 10);
      await client.set('shift:b', '1', 'EX', 100);
      const storage = { redis: client } as unknown as Storage;
      await backends[2]!.advance!(storage, 10);
      expect(await client.exists('shift:a')).toBe(0);
      expect(await client.ttl('shift:b')).toBeLessThanOrEqual(90);
    } finally {
      await client.flushdb();
      client.disconnect();
    }
  });
});
