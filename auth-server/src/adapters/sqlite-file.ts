/**
 * Opening the SQLite file a server keeps its state in (node:sqlite, built into Node 24).
 *
 * The same file exists in auth-server/src/adapters/ and resource-server/src/mcp/notes/:
 * each package is deployed on its own (its Dockerfile copies only its sources), and a test
 * holds the two copies identical.
 *
 * - The directory is created 0700 and the file 0600 before SQLite touches it (SQLite gives
 *   its -wal and -shm files the database file's mode).
 * - WAL journal mode: a commit is one append to the log, so a process killed mid-write
 *   leaves the last transaction either whole or absent; synchronous=NORMAL keeps that
 *   across a process crash (a power loss may drop the last commits, never half of one).
 * - A file that cannot be used is reported as one SqliteFileError naming the file and what
 *   to do; nothing is ever written to it.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** How long a statement waits for another connection's lock before giving up. */
const BUSY_TIMEOUT_MS = 2000;

export class SqliteFileError extends Error {
  override name = 'SqliteFileError';
}

/** Opens (creating if absent) the database at `path` and applies `schema` (idempotent DDL). */
export function openSqliteFile(path: string, schema: string): DatabaseSync {
  prepareFile(path);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    const { journal_mode: mode } = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string };
    if (mode !== 'wal')
      throw new SqliteFileError(
        `the SQLite file ${path} could not be switched to WAL journal mode (it is in ${mode} mode, held by another program?); stop that program or set SQLITE_PATH to another file`,
      );
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(schema);
    return db;
  } catch (error) {
    db?.close();
    throw describe(path, error);
  }
}

/** Runs `work` in one write transaction: taken at BEGIN, so no other connection can interleave. */
export function writeTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    // SQLite may already have rolled back (e.g. on a full disk); keep the original error.
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

function prepareFile(path: string) {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new SqliteFileError(
      `cannot create the directory of the SQLite file ${path}: ${(error as Error).message}; create it or set SQLITE_PATH to a writable place`,
    );
  }
  try {
    // 'wx': create only when absent, so an existing file is never truncated.
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code !== 'EEXIST') throw describe(path, error);
  }
}

function describe(path: string, error: unknown): SqliteFileError {
  if (error instanceof SqliteFileError) return error;
  const { errcode, code, message } = error as { errcode?: number; code?: string; message: string };
  // SQLite primary result codes (the low byte of errcode): https://sqlite.org/rescode.html
  switch (errcode === undefined ? undefined : errcode & 0xff) {
    case 26: // SQLITE_NOTADB
    case 11: // SQLITE_CORRUPT
      return new SqliteFileError(
        `${path} is not a SQLite database (or is damaged); it was left untouched: move it away to start with an empty store, or set SQLITE_PATH to another file`,
      );
    case 5: // SQLITE_BUSY
    case 6: // SQLITE_LOCKED
      return new SqliteFileError(
        `the SQLite file ${path} is locked by another process that does not share it; stop that process (several instances need STORE=redis), or set SQLITE_PATH to another file`,
      );
    case 8: // SQLITE_READONLY
      return new SqliteFileError(
        `the SQLite file ${path} is read-only for this process; make it and its directory writable by this user, or set SQLITE_PATH to another file`,
      );
    case 14: // SQLITE_CANTOPEN
    case 23: // SQLITE_AUTH
      return new SqliteFileError(
        `the SQLite file ${path} cannot be opened for reading and writing; check that it is a file this user may read and write, or set SQLITE_PATH to another file`,
      );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EROFS') {
    return new SqliteFileError(
      `the SQLite file ${path} cannot be created (${code}); check the permissions of its directory, or set SQLITE_PATH to another file`,
    );
  }
  return new SqliteFileError(`the SQLite file ${path} cannot be used: ${message}; set SQLITE_PATH to another file`);
}
