import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { Logger } from '../log.ts';
import { createRedisClient } from '../redis/client.ts';
import { describeRedisTarget, type RedisTarget } from '../redis/target.ts';
import { callerOf, InvalidTokenError, type TokenVerifier } from './verifier.ts';

/**
 * Grants the auth server revoked, as it publishes them in the store it shares with this
 * server (auth-server/src/adapters/revocations.ts): polled once a second into a set, so a
 * revoked grant's access tokens are refused within about a second — with no call to the
 * auth server and one set lookup per request. When the store cannot be read, the last
 * known set stays in force and the failure is logged once.
 */

export interface RevocationSource {
  /** Where it reads, for the start-up log. */
  readonly description: string;
  /** Grants revoked after `sinceMs` (epoch milliseconds), with when. */
  revokedSince(sinceMs: number): Promise<{ grantId: string; revokedAt: number }[]>;
  close(): Promise<void>;
}

/** Revocations are kept here for a day: longer than any access token lives. */
const KEEP_MS = 24 * 60 * 60 * 1000;

export class RevokedGrants {
  readonly #source: RevocationSource;
  readonly #logger: Logger;
  readonly #revoked = new Map<string, number>();
  #since = 0;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(source: RevocationSource, logger: Logger) {
    this.#source = source;
    this.#logger = logger;
  }

  has(grantId: string): boolean {
    return this.#revoked.has(grantId);
  }

  start(pollMs: number) {
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), pollMs).unref();
  }

  async poll(): Promise<void> {
    try {
      const now = Date.now();
      // Re-read a second of overlap: a revocation written while the last read ran is not missed.
      for (const { grantId, revokedAt } of await this.#source.revokedSince(Math.max(0, this.#since - 1000))) this.#revoked.set(grantId, revokedAt);
      this.#since = now;
      for (const [grantId, revokedAt] of this.#revoked) if (revokedAt < now - KEEP_MS) this.#revoked.delete(grantId);
      if (this.#failing) this.#logger.info({ source: this.#source.description }, 'revoked grants readable again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing)
        this.#logger.warn(
          { source: this.#source.description, err: { type: (error as Error).name, message: (error as Error).message } },
          'cannot read revoked grants; the last known ones stay refused',
        );
      this.#failing = true;
    }
  }

  async close() {
    clearInterval(this.#timer);
    await this.#source.close();
  }
}

/** A verifier that also refuses tokens whose grant was revoked. */
export function refusingRevokedGrants(verifier: TokenVerifier, revoked: RevokedGrants): TokenVerifier {
  return {
    async verify(token) {
      const authInfo = await verifier.verify(token);
      const { grantId } = callerOf(authInfo);
      if (grantId && revoked.has(grantId)) throw new InvalidTokenError('The access token was revoked.');
      return authInfo;
    },
    readiness: () => verifier.readiness(),
  };
}

export const REVOKED_GRANTS_KEY = 'oidc:revoked-grants';

export function redisRevocationSource(target: RedisTarget): RevocationSource {
  const redis = createRedisClient(target, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => {}); // reported by RevokedGrants.poll, once per outage
  return {
    description: `redis at ${describeRedisTarget(target)}`,
    async revokedSince(sinceMs) {
      const entries = await redis.zrangebyscore(REVOKED_GRANTS_KEY, `(${sinceMs}`, '+inf', 'WITHSCORES');
      const revoked = [];
      for (let index = 0; index < entries.length; index += 2) revoked.push({ grantId: entries[index]!, revokedAt: Number(entries[index + 1]) });
      return revoked;
    },
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The auth server's SQLite file, read-only (WAL lets it read while the auth server writes). */
export function sqliteRevocationSource(path: string): RevocationSource {
  let db: DatabaseSync | undefined;
  return {
    description: `the auth server's SQLite file ${path}`,
    async revokedSince(sinceMs) {
      // The auth server may start after this server: open the file once it exists.
      if (!db) {
        if (!existsSync(path)) return [];
        db = new DatabaseSync(path, { readOnly: true, timeout: 1000 });
      }
      try {
        const rows = db.prepare('SELECT grant_id AS grantId, revoked_at AS revokedAt FROM revoked_grants WHERE revoked_at > ?').all(sinceMs) as {
          grantId: string;
          revokedAt: number;
        }[];
        return rows.map((row) => ({ grantId: row.grantId, revokedAt: row.revokedAt }));
      } catch (error) {
        if (/no such table/.test((error as Error).message)) return []; // an auth server from before revocations were published
        throw error;
      }
    },
    close: async () => db?.close(),
  };
}
