import type { Adapter, AdapterPayload } from 'oidc-provider';
import { now, replayError, withinOverlap, type ConsumptionPolicy, type StoredRecord } from './consumption.ts';

/**
 * In-process storage for every oidc-provider model, with expiry, grant-id indexes and the
 * same consumption rules as the Redis adapter. State is lost on restart (said at start-up).
 */

interface Entry {
  payload: AdapterPayload;
  expiresAt: number | undefined;
  consumedAt?: number;
}

export class MemoryStore {
  readonly entries = new Map<string, Entry>();
  /** grantId → keys of everything issued under that grant. */
  readonly grants = new Map<string, Set<string>>();
  readonly indexes = new Map<string, string>();

  get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Every live record of a model (operators: the admin CLI, the connected-apps page). */
  list(model: string): StoredRecord[] {
    const records: StoredRecord[] = [];
    for (const key of this.entries.keys()) {
      if (!key.startsWith(`${model}:`)) continue;
      const entry = this.get(key);
      if (entry) records.push({ id: key.slice(model.length + 1), payload: structuredClone(entry.payload) });
    }
    return records;
  }

  revokeGrant(grantId: string) {
    for (const key of this.grants.get(grantId) ?? []) this.entries.delete(key);
    this.grants.delete(grantId);
  }

  /** A replay revokes the family and the grant itself, as oidc-provider does on its own path. */
  revokeFamily(grantId: string) {
    this.revokeGrant(grantId);
    this.entries.delete(`Grant:${grantId}`);
  }
}

export class MemoryAdapter implements Adapter {
  readonly #name: string;
  readonly #store: MemoryStore;
  readonly #policy: ConsumptionPolicy;

  constructor(name: string, store: MemoryStore, policy: ConsumptionPolicy) {
    this.#name = name;
    this.#store = store;
    this.#policy = policy;
  }

  #key(id: string) {
    return `${this.#name}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    const key = this.#key(id);
    this.#store.entries.set(key, { payload: structuredClone(payload), expiresAt: expiresIn ? now() + expiresIn : undefined });
    if (payload.grantId) {
      const keys = this.#store.grants.get(payload.grantId) ?? new Set<string>();
      keys.add(key);
      this.#store.grants.set(payload.grantId, keys);
    }
    if (payload.uid) this.#store.indexes.set(`uid:${this.#name}:${payload.uid}`, id);
    if (payload.userCode) this.#store.indexes.set(`userCode:${this.#name}:${payload.userCode}`, id);
  }

  /** Writes a record of no grant (a replay record) unless a live one has this id; true when it wrote (replay-detection.ts). */
  async createIfAbsent(id: string, payload: AdapterPayload, expiresIn: number) {
    // Check and set in one synchronous step: upsert writes before its first await.
    if (this.#store.get(this.#key(id))) return false;
    await this.upsert(id, payload, expiresIn);
    return true;
  }

  async find(id: string) {
    const entry = this.#store.get(this.#key(id));
    if (!entry) return undefined;
    const payload = structuredClone(entry.payload);
    if (entry.consumedAt !== undefined && !withinOverlap(this.#name, entry.consumedAt, this.#policy)) {
      payload.consumed = entry.consumedAt;
    }
    return payload;
  }

  async findByUid(uid: string) {
    const id = this.#store.indexes.get(`uid:${this.#name}:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode: string) {
    const id = this.#store.indexes.get(`userCode:${this.#name}:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id: string) {
    const entry = this.#store.get(this.#key(id));
    if (!entry) return;
    // Check and set in one synchronous step: no await between them.
    if (entry.consumedAt === undefined) {
      entry.consumedAt = now();
      return;
    }
    if (withinOverlap(this.#name, entry.consumedAt, this.#policy)) return;
    const grantId = entry.payload.grantId;
    if (grantId) this.#store.revokeFamily(grantId);
    throw replayError(this.#name, grantId);
  }

  async destroy(id: string) {
    this.#store.entries.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string) {
    this.#store.revokeGrant(grantId);
  }
}
