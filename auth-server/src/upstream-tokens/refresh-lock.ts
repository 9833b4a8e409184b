import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { RedisClient } from '../redis/client.ts';

/**
 * One upstream refresh per grant at a time. The IdP rotates its refresh token (Dex does):
 * two refreshes with the same one would race, and the loser could get the whole upstream
 * session revoked. Holders re-read the record inside the lock, so whoever waited finds the
 * token the first holder stored and does not refresh again.
 */
export interface RefreshLock {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/** The lock could not be taken in time (another holder is stuck at the IdP). */
export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

/** One instance (memory or SQLite store): a promise chain per key. */
export class InProcessLock implements RefreshLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** Deletes the lock only if it still holds this holder's token (it may have expired and been taken). */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisLockOptions {
  /** Longer than the slowest IdP refresh (openid-client gives up after 30 s), so a lock never expires under a live holder. */
  ttlMs?: number;
  /** How long a caller waits for the lock before giving up. */
  waitMs?: number;
  /** Pause between attempts while another instance holds the lock. */
  retryMs?: number;
  prefix?: string;
}

/**
 * Every instance sharing a Redis: SET NX PX with a random token, released by compare-and-
 * delete. Callers in one process queue in process first, so only one of them polls Redis.
 */
export class RedisLock implements RefreshLock {
  readonly #redis: RedisClient;
  readonly #local = new InProcessLock();
  readonly #ttlMs: number;
  readonly #waitMs: number;
  readonly #retryMs: number;
  readonly #prefix: string;

  constructor(redis: RedisClient, options: RedisLockOptions = {}) {
    this.#redis = redis;
    this.#ttlMs = options.ttlMs ?? 45_000;
    this.#waitMs = options.waitMs ?? 50_000;
    this.#retryMs = options.retryMs ?? 25;
    this.#prefix = options.prefix ?? 'oidc:UpstreamRefreshLock:';
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.#local.run(key, async () => {
      const lockKey = this.#prefix + key;
      const token = randomBytes(16).toString('base64url');
      const deadline = performance.now() + this.#waitMs;
      while ((await this.#redis.set(lockKey, token, 'PX', this.#ttlMs, 'NX')) !== 'OK') {
        if (performance.now() > deadline) throw new LockTimeoutError(`upstream refresh lock ${key} not acquired within ${this.#waitMs} ms`);
        await delay(this.#retryMs);
      }
      try {
        return await work();
      } finally {
        await this.#redis.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
      }
    });
  }
}
