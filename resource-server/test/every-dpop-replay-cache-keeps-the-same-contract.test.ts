/**
 * One replay contract, three backends (the ones STORE chooses, through the same factory the
 * server uses): a proof (key thumbprint, jti) is accepted once; another key's same jti is
 * another proof; concurrent presentations let exactly one through; the record survives a
 * restart (but in memory); it lasts the window and no longer (the clock is moved; Redis keeps
 * the expiry itself, read with PTTL).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { createReplayCache, type ReplayCache } from '../src/auth/dpop/replay-cache.ts';
import { loadConfig } from '../src/config.ts';

let redis: TestRedis;
let dir: string;
let run = 0;
let prefix = '';

beforeAll(async () => {
  [redis, dir] = await Promise.all([startRedis(), mkdtemp(join(tmpdir(), 'dpop-replay-'))]);
});
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

const backends: Record<string, () => Record<string, string>> = {
  memory: () => ({ STORE: 'memory' }),
  sqlite: () => ({ SQLITE_PATH: join(dir, `replay-${++run}.db`) }),
  redis: () => ({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: (prefix = `replay-${++run}:`) }),
};

describe.each(Object.keys(backends))('the %s replay cache', (name) => {
  let cache: ReplayCache;
  let env: Record<string, string>;
  const open = () => createReplayCache(loadConfig(env).store, pino({ level: 'silent' }));
  beforeEach(() => {
    env = backends[name]!();
    cache = open();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await cache.close();
  });

  it('is the one STORE chooses', () => {
    expect(cache.kind).toBe(name);
  });

  it('accepts a proof once, and the same jti of another key as another proof', async () => {
    expect(await cache.firstUse('key-a', 'jti-1', 65)).toBe(true);
    expect(await cache.firstUse('key-a', 'jti-1', 65)).toBe(false);
    expect(await cache.firstUse('key-b', 'jti-1', 65)).toBe(true);
    expect(await cache.firstUse('key-a', 'jti-2', 65)).toBe(true);
  });

  it(name === 'memory' ? 'forgets its proofs with the process' : 'keeps the proofs it accepted across a restart', async () => {
    expect(await cache.firstUse('key-a', 'jti-restart', 65)).toBe(true);
    await cache.close();
    cache = open();
    expect(await cache.firstUse('key-a', 'jti-restart', 65)).toBe(name === 'memory');
  });

  it('lets exactly one of concurrent presentations through', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.firstUse('key-a', 'jti-concurrent', 65)));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('remembers a proof for the window and no longer', async () => {
    if (name === 'redis') {
      expect(await cache.firstUse('key-a', 'jti-window', 65)).toBe(true);
      const reader = new Redis(redis.url);
      const [key] = await reader.keys(`${prefix}dpop-proof:*`);
      const ttl = await reader.pttl(key!);
      await reader.quit();
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(65_000);
      return;
    }
    vi.useFakeTimers({ toFake: ['Date'] });
    expect(await cache.firstUse('key-a', 'jti-window', 65)).toBe(true);
    vi.setSystemTime(Date.now() + 64_000);
    expect(await cache.firstUse('key-a', 'jti-window', 65)).toBe(false);
    vi.setSystemTime(Date.now() + 2_000);
    expect(await cache.firstUse('key-a', 'jti-window', 65)).toBe(true);
  });
});
