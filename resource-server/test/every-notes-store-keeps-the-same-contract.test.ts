/**
 * One notes contract, three backends: the same assertions against the in-process store,
 * a SQLite file and a real Redis, through the factory the server uses (STORE). Per-user
 * isolation, creation order, the per-user limit (also under concurrent adds), deletion.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { MAX_NOTES_PER_USER, NotesLimitError, type NotesStore } from '../src/mcp/notes/store.ts';
import { createNotesStore } from '../src/server.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';

let redis: TestRedis;
let dir: string;
let run = 0;

beforeAll(async () => {
  [redis, dir] = await Promise.all([startRedis(), mkdtemp(join(tmpdir(), 'notes-contract-'))]);
});
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

// A fresh store per test: its own SQLite file, its own Redis key prefix.
const backends: Record<string, () => Record<string, string>> = {
  memory: () => ({ STORE: 'memory' }),
  sqlite: () => ({ SQLITE_PATH: join(dir, `notes-${++run}.db`) }),
  redis: () => ({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: `notes-contract-${++run}:` }),
};

describe.each(Object.keys(backends))('the %s notes store', (name) => {
  let store: NotesStore;
  beforeEach(() => {
    store = createNotesStore(loadConfig(backends[name]!()), pino({ level: 'silent' }));
  });
  afterEach(async () => {
    vi.useRealTimers();
    await store.close();
  });

  it('is the store STORE and REDIS_URL choose', () => {
    expect(store.kind).toBe(name);
  });

  it('lists only the owner’s notes, oldest first', async () => {
    // Notes are ordered by their creation time: the clock moves between them.
    vi.useFakeTimers({ toFake: ['Date'] });
    const first = await store.add('alice', 'first');
    vi.setSystemTime(Date.now() + 1000);
    await store.add('bob', 'bob’s');
    vi.setSystemTime(Date.now() + 1000);
    const second = await store.add('alice', 'second');
    expect(await store.list('alice')).toEqual([first, second]);
    expect((await store.list('bob')).map((note) => note.text)).toEqual(['bob’s']);
    expect(await store.list('carol')).toEqual([]);
  });

  it('deletes the owner’s note, and refuses another owner’s id the same way as an unknown one', async () => {
    const bobs = await store.add('bob', 'secret');
    const alices = await store.add('alice', 'mine');
    expect(await store.remove('alice', bobs.id)).toBe(false);
    expect(await store.remove('alice', 'no-such-id')).toBe(false);
    expect(await store.list('bob')).toEqual([bobs]);
    expect(await store.remove('alice', alices.id)).toBe(true);
    expect(await store.remove('alice', alices.id)).toBe(false);
    expect(await store.list('alice')).toEqual([]);
  });

  it('keeps owners apart even when their names look like keys or SQL', async () => {
    await store.add("x' OR '1'='1", 'quoted');
    await store.add('a:b', 'colon');
    expect(await store.list('a')).toEqual([]);
    expect(await store.list("x' OR '1'='1")).toHaveLength(1);
    expect(await store.list('a:b')).toHaveLength(1);
  });

  it(`stops at ${MAX_NOTES_PER_USER} notes per user, also when adds race, and only for that user`, async () => {
    for (let i = 0; i < MAX_NOTES_PER_USER - 1; i++) await store.add('alice', `note ${i}`);
    const racing = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.add('alice', `racing ${i}`)));
    expect(racing.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of racing.filter((result) => result.status === 'rejected')) expect(result.reason).toBeInstanceOf(NotesLimitError);
    expect(await store.list('alice')).toHaveLength(MAX_NOTES_PER_USER);
    await expect(store.add('bob', 'still fine')).resolves.toMatchObject({ text: 'still fine' });
  });

  it('answers readiness', async () => {
    expect((await store.readiness()).ok).toBe(true);
  });
});
