import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { openSqliteFile, writeTransaction } from './sqlite-file.ts';
import { byCreation, MAX_NOTES_PER_USER, NotesLimitError, type Note, type NotesStore } from './store.ts';

/**
 * Notes in a SQLite file (the default: one instance, kept across restarts). The owner is
 * part of the primary key and of every query, so a lookup can never cross users; the
 * per-user limit is checked and the note inserted in one write transaction.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notes (
  owner      TEXT NOT NULL,
  id         TEXT NOT NULL,
  text       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (owner, id)
) WITHOUT ROWID;
`;

interface Row {
  id: string;
  text: string;
  created_at: string;
}

export class SqliteNotesStore implements NotesStore {
  readonly kind = 'sqlite';
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements: Record<'list' | 'count' | 'insert' | 'remove' | 'ping', StatementSync>;

  constructor(path: string) {
    this.path = path;
    this.#db = openSqliteFile(path, SCHEMA);
    this.#statements = {
      list: this.#db.prepare('SELECT id, text, created_at FROM notes WHERE owner = :owner'),
      count: this.#db.prepare('SELECT count(*) AS n FROM notes WHERE owner = :owner'),
      insert: this.#db.prepare('INSERT INTO notes (owner, id, text, created_at) VALUES (:owner, :id, :text, :createdAt)'),
      remove: this.#db.prepare('DELETE FROM notes WHERE owner = :owner AND id = :id'),
      ping: this.#db.prepare('SELECT 1 AS ok'),
    };
  }

  async list(owner: string): Promise<Note[]> {
    const rows = this.#statements.list.all({ owner }) as unknown as Row[];
    return rows.map((row) => ({ id: row.id, text: row.text, createdAt: row.created_at })).sort(byCreation);
  }

  async add(owner: string, text: string): Promise<Note> {
    const note = { id: randomUUID(), text, createdAt: new Date().toISOString() };
    writeTransaction(this.#db, () => {
      const { n } = this.#statements.count.get({ owner }) as { n: number };
      if (n >= MAX_NOTES_PER_USER) throw new NotesLimitError();
      this.#statements.insert.run({ owner, id: note.id, text, createdAt: note.createdAt });
    });
    return note;
  }

  async remove(owner: string, id: string): Promise<boolean> {
    return Number(this.#statements.remove.run({ owner, id }).changes) === 1;
  }

  async readiness() {
    try {
      this.#statements.ping.get();
      return { ok: true, detail: `SQLite file ${this.path}` };
    } catch (error) {
      return { ok: false, detail: `SQLite file ${this.path}: ${(error as Error).message}` };
    }
  }

  async close() {
    if (this.#db.isOpen) this.#db.close();
  }
}
