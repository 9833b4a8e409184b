import { createHash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StoreChoice } from '../../config.ts';
import type { Logger } from '../../log.ts';
import { openSqliteFile } from '../../mcp/notes/sqlite-file.ts';
import { createRedisClient, type RedisClient } from '../../redis/client.ts';

/**
 * The DPoP proofs already used (RFC 9449 §11.1): a proof's jti is recorded the first time it
 * is accepted and refused afterwards, for as long as its iat keeps it acceptable. Where the
 * notes are (STORE), so every instance sharing them shares this: Redis (one `SET NX EX` per
 * proof: one key, so a Cluster too), the SQLite file (one statement), or this process.
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
    const now = Date.now();
    for (const [key, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(key);
    }
    const key = keyOf(jkt, jti);
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now + ttlSeconds * 1000);
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
CREATE INDEX IF NOT EXISTS dpop_proofs_expiry ON dpop_proofs (expires_at);
`;

export class SqliteReplayCache implements ReplayCache {
  readonly kind = 'sqlite';
  readonly #db: DatabaseSync;
  readonly #record: StatementSync;
  readonly #purge: StatementSync;
  #nextPurge = 0;

  constructor(path: string) {
    this.#db = openSqliteFile(path, SCHEMA);
    // One statement, so atomic: a new key is inserted, an expired one taken over, a live one left alone (0 changes).
    this.#record = this.#db.prepare(
      'INSERT INTO dpop_proofs (key, expires_at) VALUES (:key, :until) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_proofs.expires_at <= :now',
    );
    this.#purge = this.#db.prepare('DELETE FROM dpop_proofs WHERE expires_at <= :now');
  }

  async firstUse(jkt: string, jti: string, ttlSeconds: number): Promise<boolean> {
    const now = Date.now();
    try {
      // Expired rows go once a minute, so the file does not grow with traffic.
      if (now >= this.#nextPurge) {
        this.#purge.run({ now });
        this.#nextPurge = now + 60_000;
      }
      return Number(this.#record.run({ key: keyOf(jkt, jti), until: now + ttlSeconds * 1000, now }).changes) === 1;
    } catch (error) {
      throw new ReplayCacheUnavailableError(`the SQLite file cannot record DPoP proofs: ${(error as Error).message}`);
    }
  }

  async close() {
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
  if (store.kind === 'sqlite') return new SqliteReplayCache(store.path);
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
