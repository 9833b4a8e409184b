import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../redis.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

it('starts a Redis of its own, never the machine one on 6379', async () => {
  expect(new URL(redis.url).port).not.toBe('6379');
  const client = new Redis(redis.url);
  try {
    await client.set('harness:probe', 'ok');
    expect(await client.get('harness:probe')).toBe('ok');
  } finally {
    client.disconnect();
  }
});
