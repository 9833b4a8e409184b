import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { now, replayError, withinOverlap, type ConsumptionPolicy, type StoredRecord } from './consumption.ts';
import { openSqliteFile, writeTransaction } from './sqlite-file.ts';

/**
 * SQLite storage for every oidc-provider model (and the auth server's accounts): the
 * default, one instance, state kept across restarts. One row per record:
 *
 *   (model, id) → payload (JSON), grant_id, uid, user_code, expires_at, consumed_at
 *
 * The rules are the Redis adapter's (consumption.ts): `consume` checks and marks in one
 * write transaction, a replay outside the refresh reuse window deletes the grant's whole
 * family, an expired row is never returned, and `sweep` deletes expired rows (run
 * periodically) so the file does not grow without bound.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oidc_records (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,
  grant_id    TEXT,
  uid         TEXT,
  user_code   TEXT,
  expires_at  INTEGER, -- epoch seconds; NULL: never
  consumed_at INTEGER, -- epoch seconds of the first consumption
  PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS oidc_records_grant ON oidc_records (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_records_uid ON oidc_records (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_records_user_code ON oidc_records (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_records_expiry ON oidc_records (expires_at) WHERE expires_at IS NOT NULL;
-- Revoked grants, read by resource servers on this machine (revocations.ts).
CREATE TABLE IF NOT EXISTS revoked_grants (
  grant_id     TEXT PRIMARY KEY,
  revoked_at   INTEGER NOT NULL, -- epoch milliseconds
  retain_until INTEGER NOT NULL  -- epoch seconds
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revoked_grants_at ON revoked_grants (revoked_at);
`;

/** How often expired rows are deleted. */
export const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

const LIVE = '(expires_at IS NULL OR expires_at > :now)';

interface Row {
  payload: string;
  consumed_at: number | null;
}

export class SqliteStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #timer: NodeJS.Timeout;
  readonly statements: Record<
    | 'upsert'
    | 'createIfAbsent'
    | 'list'
    | 'publishRevokedGrant'
    | 'pruneRevokedGrants'
    | 'find'
    | 'findByUid'
    | 'findByUserCode'
    | 'consumption'
    | 'markConsumed'
    | 'destroy'
    | 'revokeGrant'
    | 'destroyGrant'
    | 'sweep'
    | 'ping',
    StatementSync
  >;

  constructor(path: string, { sweepIntervalMs = SWEEP_INTERVAL_MS } = {}) {
    this.path = path;
    this.#db = openSqliteFile(path, SCHEMA);
    const db = this.#db;
    this.statements = {
      upsert: db.prepare(`
        INSERT INTO oidc_records (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)
        VALUES (:model, :id, :payload, :grantId, :uid, :userCode, :expiresAt, NULL)
        ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
          user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL`),
      // One statement, so one write: of two connections claiming the same id, one changes a row.
      // An expired row not yet swept counts as absent.
      createIfAbsent: db.prepare(`
        INSERT INTO oidc_records (model, id, payload, expires_at) VALUES (:model, :id, :payload, :expiresAt)
        ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = NULL, uid = NULL, user_code = NULL,
          expires_at = excluded.expires_at, consumed_at = NULL
        WHERE oidc_records.expires_at IS NOT NULL AND oidc_records.expires_at <= :now`),
      find: db.prepare(`SELECT payload, consumed_at FROM oidc_records WHERE model = :model AND id = :id AND ${LIVE}`),
      list: db.prepare(`SELECT id, payload FROM oidc_records WHERE model = :model AND ${LIVE} ORDER BY id`),
      publishRevokedGrant: db.prepare(
        'INSERT INTO revoked_grants (grant_id, revoked_at, retain_until) VALUES (:grantId, :at, :until) ON CONFLICT (grant_id) DO UPDATE SET revoked_at = excluded.revoked_at, retain_until = excluded.retain_until',
      ),
      pruneRevokedGrants: db.prepare('DELETE FROM revoked_grants WHERE retain_until <= :now'),
      findByUid: db.prepare(`SELECT payload, consumed_at FROM oidc_records WHERE model = :model AND uid = :uid AND ${LIVE} LIMIT 1`),
      findByUserCode: db.prepare(`SELECT payload, consumed_at FROM oidc_records WHERE model = :model AND user_code = :userCode AND ${LIVE} LIMIT 1`),
      consumption: db.prepare(`SELECT consumed_at, grant_id FROM oidc_records WHERE model = :model AND id = :id AND ${LIVE}`),
      markConsumed: db.prepare('UPDATE oidc_records SET consumed_at = :now WHERE model = :model AND id = :id'),
      destroy: db.prepare('DELETE FROM oidc_records WHERE model = :model AND id = :id'),
      revokeGrant: db.prepare('DELETE FROM oidc_records WHERE grant_id = :grantId'),
      destroyGrant: db.prepare(`DELETE FROM oidc_records WHERE model = 'Grant' AND id = :grantId`),
      sweep: db.prepare('DELETE FROM oidc_records WHERE expires_at <= :now'),
      ping: db.prepare('SELECT 1 AS ok'),
    };
    this.#timer = setInterval(() => this.sweep(), sweepIntervalMs).unref();
  }

  adapter(name: string, policy: ConsumptionPolicy): Adapter {
    return new SqliteAdapter(name, this, policy);
  }

  transaction<T>(work: () => T): T {
    return writeTransaction(this.#db, work);
  }

  /** Every live record of a model (operators: the admin CLI, the connected-apps page). */
  list(model: string): StoredRecord[] {
    return (this.statements.list.all({ model, now: now() }) as { id: string; payload: string }[]).map((row) => ({
      id: row.id,
      payload: JSON.parse(row.payload) as AdapterPayload,
    }));
  }

  /** A revoked grant, for resource servers on this machine (revocations.ts). */
  publishRevokedGrant(grantId: string, retentionSeconds: number) {
    this.statements.publishRevokedGrant.run({ grantId, at: Date.now(), until: now() + retentionSeconds });
  }

  /** Deletes every expired row; returns how many. */
  sweep(at = now()): number {
    this.statements.pruneRevokedGrants.run({ now: at });
    return Number(this.statements.sweep.run({ now: at }).changes);
  }

  ping(): boolean {
    try {
      return (this.statements.ping.get() as { ok: number }).ok === 1;
    } catch {
      return false;
    }
  }

  close() {
    clearInterval(this.#timer);
    if (this.#db.isOpen) this.#db.close();
  }
}

class SqliteAdapter implements Adapter {
  readonly #model: string;
  readonly #store: SqliteStore;
  readonly #policy: ConsumptionPolicy;

  constructor(model: string, store: SqliteStore, policy: ConsumptionPolicy) {
    this.#model = model;
    this.#store = store;
    this.#policy = policy;
  }

  #payload(row: Row | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at !== null && !withinOverlap(this.#model, row.consumed_at, this.#policy)) payload.consumed = row.consumed_at;
    return payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    this.#store.statements.upsert.run({
      model: this.#model,
      id,
      payload: JSON.stringify(payload),
      grantId: payload.grantId ?? null,
      uid: payload.uid ?? null,
      userCode: payload.userCode ?? null,
      expiresAt: expiresIn ? now() + expiresIn : null,
    });
  }

  /** Writes a record of no grant (a replay record) unless a live one has this id; true when it wrote (replay-detection.ts). */
  async createIfAbsent(id: string, payload: AdapterPayload, expiresIn: number) {
    const at = now();
    const { changes } = this.#store.statements.createIfAbsent.run({
      model: this.#model,
      id,
      payload: JSON.stringify(payload),
      expiresAt: at + expiresIn,
      now: at,
    });
    return Number(changes) === 1;
  }

  async find(id: string) {
    return this.#payload(this.#store.statements.find.get({ model: this.#model, id, now: now() }) as Row | undefined);
  }

  async findByUid(uid: string) {
    return this.#payload(this.#store.statements.findByUid.get({ model: this.#model, uid, now: now() }) as Row | undefined);
  }

  async findByUserCode(userCode: string) {
    return this.#payload(this.#store.statements.findByUserCode.get({ model: this.#model, userCode, now: now() }) as Row | undefined);
  }

  async consume(id: string) {
    const { statements } = this.#store;
    const replayed = this.#store.transaction(() => {
      const at = now();
      const row = statements.consumption.get({ model: this.#model, id, now: at }) as { consumed_at: number | null; grant_id: string | null } | undefined;
      if (!row) return false; // gone or expired: oidc-provider decides
      if (row.consumed_at === null) {
        statements.markConsumed.run({ model: this.#model, id, now: at });
        return false;
      }
      if (withinOverlap(this.#model, row.consumed_at, this.#policy, at)) return false;
      if (row.grant_id) {
        statements.revokeGrant.run({ grantId: row.grant_id });
        statements.destroyGrant.run({ grantId: row.grant_id });
      }
      return { grantId: row.grant_id ?? undefined };
    });
    if (replayed) throw replayError(this.#model, replayed.grantId);
  }

  async destroy(id: string) {
    this.#store.statements.destroy.run({ model: this.#model, id });
  }

  async revokeByGrantId(grantId: string) {
    this.#store.statements.revokeGrant.run({ grantId });
  }
}
