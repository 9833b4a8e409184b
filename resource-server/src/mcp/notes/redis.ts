import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.ts';
import { createRedisClient, type RedisClient } from '../../redis/client.ts';
import type { RedisTarget } from '../../redis/target.ts';
import { byCreation, MAX_NOTES_PER_USER, NotesLimitError, type Note, type NotesStore } from './store.ts';

/**
 * Notes in Redis: one hash per owner, `<prefix>notes:<owner>` → { id: JSON(note) }.
 * The owner is part of the key, so a lookup can never cross users. Every command and script
 * touches that one key, so it runs on a Redis Cluster as on one server (the owner is
 * percent-encoded: no `{` can make a hash tag of it).
 */

// Adds a note unless the owner is at the limit, atomically.
const ADD_SCRIPT = `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

export class RedisNotesStore implements NotesStore {
  readonly kind = 'redis';
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(options: { target: RedisTarget; keyPrefix: string; logger: Logger }) {
    this.#prefix = options.keyPrefix;
    this.#redis = createRedisClient(options.target, { maxRetriesPerRequest: 2, enableOfflineQueue: true, connectTimeout: 5000 });
    let reported = false;
    this.#redis.on('error', (error: Error) => {
      // Reconnects by itself; say it once per outage, not once per retry.
      if (!reported) options.logger.error({ err: { type: error.name, message: error.message } }, 'redis connection error');
      reported = true;
    });
    this.#redis.on('ready', () => {
      reported = false;
    });
  }

  #key(owner: string) {
    return `${this.#prefix}notes:${encodeURIComponent(owner)}`;
  }

  async list(owner: string): Promise<Note[]> {
    const values = await this.#redis.hvals(this.#key(owner));
    return values.map((value) => JSON.parse(value) as Note).sort(byCreation);
  }

  async add(owner: string, text: string): Promise<Note> {
    const note = { id: randomUUID(), text, createdAt: new Date().toISOString() };
    const added = await this.#redis.eval(ADD_SCRIPT, 1, this.#key(owner), note.id, JSON.stringify(note), MAX_NOTES_PER_USER);
    if (added !== 1) throw new NotesLimitError();
    return note;
  }

  async remove(owner: string, id: string): Promise<boolean> {
    return (await this.#redis.hdel(this.#key(owner), id)) === 1;
  }

  async readiness() {
    try {
      // PING answers PONG or fails.
      await Promise.race([this.#redis.ping(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
      return { ok: true, detail: 'redis reachable' };
    } catch (error) {
      return { ok: false, detail: `redis unreachable: ${(error as Error).message}` };
    }
  }

  async close() {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
