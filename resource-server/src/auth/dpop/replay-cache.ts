import { createHash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StoreChoice } from '../../config.ts';
import type { Logger } from '../../log.ts';
import { openSqliteFile, writeTransaction } from '../../mcp/notes/sqlite-file.ts';
import { createRedisClient, type RedisClient } from '../../redis/client.ts';

/**
 * The DPoP proofs already used (RFC 9449 §11.1): a proof's jti is recorded the first time it
 * is accepted and refused afterwards, for as long as its iat keeps it acceptable. Where the
 * notes are (STORE), so every instance sharing them shares this: Redis (one `SET NX EX` per
 * proof: one key, so a Cluster too), the SQLite file (its one instance's memory, written
 * behind to the file), or this process.
 * Keys are a hash of the proof key's thumbprint and the jti: fixed length, whatever the jti.
 */
export interface ReplayCache {
  readonly kind: 'memory' | 'sqlite' | 'redis';
  /** True the first time (jkt, jti) is seen within `ttlSeconds`; throws ReplayCacheUnavailableError when it cannot tell. */
  firstUse(jkt: string, jti: string, ttlSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The store cannot be reached: a proof cannot be checked for replay, so it is not accepted (503). */
export class ReplayCacheUnavailableError extends Error {
  override name = 'ReplayCacheUnavailableError';
}

function keyOf(jkt: string, jti: string): string {
  return createHash('sha256').update(`${jkt} ${jti}`).digest('base64url');
}

export class MemoryReplayCache implements ReplayCache {
  readonly kind = 'memory';
  // Insertion order is expiry order (one TTL per server), so expired entries are at the front.
  readonly #seen = new Map<string, number>();

  async firstUse(jkt: string, jti: string, ttlSeconds: number): Promise<boolean> {
    return this.record(keyOf(jkt, jti), Date.now() + ttlSeconds * 1000);
  }

  /** True when `key` was not held (then it is, until `until`, epoch ms). */
  record(key: string, until: number): boolean {
    const now = Date.now();
    for (const [seenKey, seenUntil] of this.#seen) {
      if (seenUntil > now) break;
      this.#seen.delete(seenKey);
    }
    const held = this.#seen.get(key);
    if (held !== undefined && held > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, until);
    return true;
  }

  async close() {
    this.#seen.clear();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dpop_proofs (
  key        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * A SQLite file serves one instance (README, Storage), so this process's memory decides, and
 * the file keeps the record across a restart: accepted proofs are written behind, in one
 * transaction every 100 ms (a commit per request would cost a WAL append and, every thousand
 * pages, a checkpoint's fsync on the event loop), and read back at start-up. A crash loses at
 * most the last 100 ms of records, as synchronous=NORMAL may lose the last commits anyway.
 */
export class SqliteReplayCache implements ReplayCache {
  readonly kind = 'sqlite';
  readonly #db: DatabaseSync;
  readonly #memory = new MemoryReplayCache();
  readonly #insert: StatementSync;
  readonly #purge: StatementSync;
  readonly #timer: NodeJS.Timeout;
  readonly #logger: Logger;
  #pending: { key: string; until: number }[] = [];
  #nextPurge = 0;
  #failing = false;

  constructor(path: string, logger: Logger) {
    this.#logger = logger;
    this.#db = openSqliteFile(path, SCHEMA);
    this.#insert = this.#db.prepare(
      'INSERT INTO dpop_proofs (key, expires_at) VALUES (:key, :until) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at',
    );
    this.#purge = this.#db.prepare('DELETE FROM dpop_proofs WHERE expires_at <= :now');
    const rows = this.#db.prepare('SELECT key, expires_at AS until FROM dpop_proofs WHERE expires_at > :now ORDER BY expires_at').all({ now: Date.now() }) as {
      key: string;
      until: number;
    }[];
    for (const row of rows) this.#memory.record(row.key, row.until);
    this.#timer = setInterval(() => this.#flush(), 100).unref();
  }

  async firstUse(jkt: string, jti: string, ttlSeconds: number): Promise<boolean> {
    const key = keyOf(jkt, jti);
    const until = Date.now() + ttlSeconds * 1000;
    if (!this.#memory.record(key, until)) return false;
    this.#pending.push({ key, until });
    return true;
  }

  #flush() {
    const now = Date.now();
    const pending = this.#pending;
    if (!pending.length && now < this.#nextPurge) return;
    try {
      writeTransaction(this.#db, () => {
        for (const row of pending) this.#insert.run(row);
        // Expired rows go every 10 s, so the table holds about one window of traffic.
        if (now >= this.#nextPurge) {
          this.#purge.run({ now });
          this.#nextPurge = now + 10_000;
        }
      });
      this.#pending = [];
      if (this.#failing) this.#logger.info('DPoP proofs are written to the SQLite file again');
      this.#failing = false;
    } catch (error) {
      // This process still refuses their replays; only a restart would forget them.
      if (!this.#failing)
        this.#logger.warn(
          { err: { type: (error as Error).name, message: (error as Error).message } },
          'cannot write accepted DPoP proofs to the SQLite file; retrying',
        );
      this.#failing = true;
    }
  }

  async close() {
    clearInterval(this.#timer);
    this.#flush();
    if (this.#db.isOpen) this.#db.close();
  }
}

export class RedisReplayCache implements ReplayCache {
  readonly kind = 'redis';
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, keyPrefix: string) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}dpop-proof:`;
  }

  async firstUse(jkt: string, jti: string, ttlSeconds: number): Promise<boolean> {
    try {
      return (await this.#redis.set(`${this.#prefix}${keyOf(jkt, jti)}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    } catch (error) {
      throw new ReplayCacheUnavailableError(`redis cannot record DPoP proofs: ${(error as Error).message}`);
    }
  }

  async close() {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

/** The replay cache beside the notes, as STORE chose them. */
export function createReplayCache(store: StoreChoice, logger: Logger): ReplayCache {
  if (store.kind === 'memory') return new MemoryReplayCache();
  // The notes store opened the same file first: a file that cannot be used has stopped start-up already.
  if (store.kind === 'sqlite') return new SqliteReplayCache(store.path, logger);
  const redis = createRedisClient(store, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 5000 });
  let reported = false;
  redis.on('error', (error: Error) => {
    if (!reported) logger.error({ err: { type: error.name, message: error.message } }, 'redis connection error (DPoP replay cache)');
    reported = true;
  });
  redis.on('ready', () => {
    reported = false;
  });
  return new RedisReplayCache(redis, store.keyPrefix);
}
