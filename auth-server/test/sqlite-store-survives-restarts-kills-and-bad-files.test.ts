/**
 * What the SQLite file promises beyond the adapter contract, for the auth server's store
 * and the resource server's notes: state survives a reopen, expired rows are swept from the
 * file, the file is private, a process SIGKILLed in the middle of writes leaves every record
 * whole or absent, and a file that cannot be used stops either server at start-up with one
 * line naming it (exit 2), without touching it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteStore, SWEEP_INTERVAL_MS } from '../src/adapters/sqlite.ts';
import { SqliteNotesStore } from '../../resource-server/src/mcp/notes/sqlite.ts';
import { freePort } from '../../test-support/ports.ts';
import { ownerOf, recordFor } from './fixtures/sqlite-write-burst.ts';

const root = join(import.meta.dirname, '..', '..');
const policy = { refreshOverlapSeconds: 0 };
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sqlite-store-'));
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Rows in the file, read over a connection of its own (WAL lets it read beside the store). */
function rowsIn(file: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

describe('the auth server SQLite store', () => {
  it('keeps clients, sessions, consumption and accounts across a reopen', async () => {
    const file = join(dir, 'reopen.db');
    const first = new SqliteStore(file);
    await first.adapter('Client', policy).upsert('c1', { client_id: 'c1' });
    await first.adapter('Session', policy).upsert('s1', { uid: 'u1', accountId: 'alice' }, 3600);
    await first.adapter('Account', policy).upsert('alice', { profile: { sub: 'alice' } });
    await first.adapter('AuthorizationCode', policy).upsert('code', { grantId: 'g1' }, 60);
    await first.adapter('AuthorizationCode', policy).consume('code');
    first.close();

    const second = new SqliteStore(file);
    try {
      expect(await second.adapter('Client', policy).find('c1')).toEqual({ client_id: 'c1' });
      expect(await second.adapter('Session', policy).findByUid('u1')).toMatchObject({ accountId: 'alice' });
      expect(await second.adapter('Account', policy).find('alice')).toEqual({ profile: { sub: 'alice' } });
      // The code stays used: presenting it after the restart is a replay.
      await expect(second.adapter('AuthorizationCode', policy).consume('code')).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      second.close();
    }
  });

  it('deletes expired rows from the file on its periodic sweep, and only those', async () => {
    vi.useFakeTimers();
    const file = join(dir, 'sweep.db');
    const store = new SqliteStore(file);
    try {
      await store.adapter('AccessToken', policy).upsert('short', { grantId: 'g' }, 60);
      await store.adapter('RefreshToken', policy).upsert('long', { grantId: 'g' }, 7 * 24 * 3600);
      await store.adapter('Client', policy).upsert('forever', { client_id: 'forever' });
      const ids = () => rowsIn(file, 'SELECT id FROM oidc_records ORDER BY id').map((row) => row.id);

      vi.advanceTimersByTime(61_000);
      // Expired, so never returned, but still in the file until the sweep runs.
      expect(await store.adapter('AccessToken', policy).find('short')).toBeUndefined();
      expect(ids()).toEqual(['forever', 'long', 'short']);

      vi.advanceTimersByTime(SWEEP_INTERVAL_MS);
      expect(ids()).toEqual(['forever', 'long']);
    } finally {
      store.close();
    }
  });

  it('creates its directory 0700 and the database, with its write-ahead log, 0600', async () => {
    const file = join(dir, 'private', 'nested', 'state.db');
    const store = new SqliteStore(file);
    try {
      await store.adapter('Client', policy).upsert('c1', { client_id: 'c1' });
      expect((await stat(join(dir, 'private', 'nested'))).mode & 0o777).toBe(0o700);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(`${file}-wal`)).mode & 0o777).toBe(0o600);
      expect(rowsIn(file, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    } finally {
      store.close();
    }
  });
});

describe('the resource server notes file', () => {
  it('keeps each user’s notes across a reopen, with the same per-user limit', async () => {
    const file = join(dir, 'notes.db');
    const first = new SqliteNotesStore(file);
    const note = await first.add('alice', 'buy milk');
    await first.close();
    const second = new SqliteNotesStore(file);
    try {
      expect(await second.list('alice')).toEqual([note]);
      expect(await second.list('bob')).toEqual([]);
    } finally {
      await second.close();
    }
  });
});

describe.each(['oidc', 'notes'] as const)('a process SIGKILLed during a burst of %s writes', (kind) => {
  it('leaves every record whole or absent, and every acknowledged one present', async () => {
    const file = join(dir, `burst-${kind}.db`);
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'sqlite-write-burst.ts'), kind, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    let acknowledged = -1;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        acknowledged = Number(line);
        // Killed while it keeps writing: the next write is already under way.
        if (acknowledged === 400 && child.kill('SIGKILL')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it was killed: ${stderr}`)));
    });
    const [, signal] = await once(child, 'exit');
    expect(signal).toBe('SIGKILL');

    expect(rowsIn(file, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    if (kind === 'oidc') {
      const store = new SqliteStore(file); // replays the write-ahead log
      try {
        const codes = store.adapter('AuthorizationCode', policy);
        const ids = rowsIn(file, 'SELECT id FROM oidc_records').map((row) => Number(String(row.id).slice(1)));
        expect(Math.max(...ids)).toBeGreaterThanOrEqual(acknowledged);
        for (const n of ids) {
          const { consumed, ...payload } = (await codes.find(`r${n}`))!;
          expect(payload).toEqual({ ...recordFor(n), grantId: `g${n}` });
          // An acknowledged odd record was consumed before it was acknowledged.
          if (n % 2 && n <= acknowledged) expect(consumed).toEqual(expect.any(Number));
        }
        for (let n = 0; n <= acknowledged; n++) expect(ids).toContain(n);
      } finally {
        store.close();
      }
    } else {
      const store = new SqliteNotesStore(file);
      try {
        const texts = rowsIn(file, 'SELECT owner, text FROM notes') as { owner: string; text: string }[];
        expect(texts.length).toBeGreaterThan(acknowledged);
        for (const { owner, text } of texts) {
          const record = JSON.parse(text) as { n: number };
          expect(record).toEqual(recordFor(record.n));
          expect(owner).toBe(ownerOf(record.n));
        }
        const seen = new Set(texts.map(({ text }) => (JSON.parse(text) as { n: number }).n));
        for (let n = 0; n <= acknowledged; n++) expect(seen.has(n)).toBe(true);
        expect((await store.list(ownerOf(0))).length).toBe(100);
      } finally {
        await store.close();
      }
    }
  });
});

describe.each([
  { server: 'auth-server', env: { IDP_CLIENT_SECRET: 'unused' } },
  { server: 'resource-server', env: {} },
])('$server start-up on a SQLite file it cannot use', ({ server, env }) => {
  /** Runs the server's main.ts with only the given environment; resolves when it exits. */
  async function start(sqlitePath: string) {
    const child = spawn(process.execPath, [join(root, server, 'src', 'main.ts')], {
      env: {
        PATH: process.env.PATH,
        PORT: String(await freePort()),
        LOG_LEVEL: 'silent',
        KEYS_FILE: join(dir, `${server}-keys.json`),
        SQLITE_PATH: sqlitePath,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  }

  function expectOneLine(result: { code: number | null; stderr: string }, file: string, says: string) {
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${server} could not start`);
    expect(lines[0]).toContain(file);
    expect(lines[0]).toContain(says);
    expect(lines[0]).toContain('SQLITE_PATH');
  }

  it('refuses a file that is not a database, and leaves it as it was', async () => {
    const file = join(dir, `${server}-notes.txt`);
    const content = 'my shopping list: milk, eggs, bread — not a database\n'.repeat(100);
    await writeFile(file, content);
    expectOneLine(await start(file), file, 'is not a SQLite database');
    expect(await readFile(file, 'utf8')).toBe(content);
  });

  it('refuses a path it cannot open as a file (a directory)', async () => {
    const path = join(dir, `${server}-a-directory.db`);
    await mkdir(path);
    expectOneLine(await start(path), path, 'cannot be opened for reading and writing');
  });

  // root reads any file whatever its mode: only a non-root user can be refused this way.
  it.runIf(process.getuid?.() !== 0)('refuses a file it may not read', async () => {
    const file = join(dir, `${server}-unreadable.db`);
    await writeFile(file, '');
    await chmod(file, 0o000);
    expectOneLine(await start(file), file, 'cannot be opened');
  });

  it('refuses a file another process holds exclusively, and leaves that process’s data alone', async () => {
    const file = join(dir, `${server}-held.db`);
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DatabaseSync } from 'node:sqlite';
         const db = new DatabaseSync(process.argv[1]);
         db.exec("CREATE TABLE mine (x); INSERT INTO mine VALUES ('kept'); PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;");
         console.log('held'); setInterval(() => {}, 1000);`,
        file,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(holder);
    await new Promise((resolve) => createInterface({ input: holder.stdout }).once('line', resolve));
    try {
      expectOneLine(await start(file), file, 'is locked by another process');
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    expect(rowsIn(file, 'SELECT x FROM mine')).toEqual([{ x: 'kept' }]);
  });
});
