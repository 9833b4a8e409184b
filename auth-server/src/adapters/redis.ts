import type { ChainableCommander } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { primaries, type RedisClient } from '../redis/client.ts';
import { now, replayError, withinOverlap, type ConsumptionPolicy, type StoredRecord } from './consumption.ts';

/**
 * Redis storage for every oidc-provider model (and the auth server's accounts).
 *
 *   {prefix}{Model}:{id}        hash: payload (JSON), grantId, consumed (epoch seconds); TTL
 *   {prefix}grant:{grantId}     set of the keys issued under a grant, so revoking a grant
 *                               revokes every code and token of it; TTL = the longest member
 *   {prefix}uid:{Model}:{uid}   → id (sessions)       {prefix}userCode:{Model}:{code} → id
 *
 * `consume` is one atomic script: of two auth-server instances presenting the same code or
 * refresh token, exactly one consumes it; the other sees a replay (outside the overlap window).
 *
 * On a Redis Cluster a script or transaction may touch one hash slot only. Every script here
 * touches a single key; an upsert's writes are one transaction per key, the grant's set
 * first, so a record never exists without its grant knowing it (a crash in between leaves a
 * set member with no record, which revocation skips). Revocation deletes the members before
 * the set, so a revocation cut short is completed by the next one. Key names are the same on
 * every topology: data moved from one server to a cluster keeps working.
 */

/** Marks a hash consumed unless it already was; returns the earlier consumption time, if any. */
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local previous = redis.call('HGET', KEYS[1], 'consumed')
if previous then return tonumber(previous) end
redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
return 0`;

/** Extends a key's TTL to at least `seconds` (never shortens it; -1 means no expiry). */
const EXTEND_TTL = `
local ttl = redis.call('TTL', KEYS[1])
if ttl == -1 then return 0 end
if ttl < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1`;

/** Writes a record's hash unless the key exists; 1 when it wrote. One key, so one slot on a cluster. */
const CREATE_IF_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

export class RedisAdapter implements Adapter {
  readonly #name: string;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #policy: ConsumptionPolicy;

  constructor(name: string, redis: RedisClient, policy: ConsumptionPolicy, prefix = 'oidc:') {
    this.#name = name;
    this.#redis = redis;
    this.#policy = policy;
    this.#prefix = prefix;
  }

  #key(id: string) {
    return `${this.#prefix}${this.#name}:${id}`;
  }

  #grantKey(grantId: string) {
    return `${this.#prefix}grant:${grantId}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    const key = this.#key(id);
    // Each step writes one key; in this order.
    const steps: ((multi: ChainableCommander) => ChainableCommander)[] = [];
    if (payload.grantId) {
      const grantKey = this.#grantKey(payload.grantId);
      steps.push((multi) => {
        multi.sadd(grantKey, key);
        return expiresIn ? multi.eval(EXTEND_TTL, 1, grantKey, expiresIn) : multi.persist(grantKey);
      });
    }
    steps.push((multi) => {
      multi.del(key).hset(key, { payload: JSON.stringify(payload), ...(payload.grantId ? { grantId: payload.grantId } : {}) });
      return expiresIn ? multi.expire(key, expiresIn) : multi;
    });
    for (const [index, value] of [
      ['uid', payload.uid],
      ['userCode', payload.userCode],
    ] as const) {
      if (!value) continue;
      const indexKey = `${this.#prefix}${index}:${this.#name}:${value}`;
      steps.push((multi) => (expiresIn ? multi.set(indexKey, id, 'EX', expiresIn) : multi.set(indexKey, id)));
    }
    await this.#transact(steps);
  }

  /** One transaction on a single server; on a cluster, one per step (each step is one key's). */
  async #transact(steps: ((multi: ChainableCommander) => ChainableCommander)[]) {
    if (!this.#redis.isCluster) {
      await steps.reduce((multi, step) => step(multi), this.#redis.multi()).exec();
      return;
    }
    for (const step of steps) await step(this.#redis.multi()).exec();
  }

  /** Writes a record of no grant (a replay record) unless a live one has this id; true when it wrote (replay-detection.ts). */
  async createIfAbsent(id: string, payload: AdapterPayload, expiresIn: number) {
    return ((await this.#redis.eval(CREATE_IF_ABSENT, 1, this.#key(id), JSON.stringify(payload), expiresIn)) as number) === 1;
  }

  async find(id: string) {
    const [payload, consumed] = await this.#redis.hmget(this.#key(id), 'payload', 'consumed');
    if (!payload) return undefined;
    const parsed = JSON.parse(payload) as AdapterPayload;
    if (consumed && !withinOverlap(this.#name, Number(consumed), this.#policy)) parsed.consumed = Number(consumed);
    return parsed;
  }

  async findByUid(uid: string) {
    const id = await this.#redis.get(`${this.#prefix}uid:${this.#name}:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode: string) {
    const id = await this.#redis.get(`${this.#prefix}userCode:${this.#name}:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id: string) {
    const key = this.#key(id);
    const previous = (await this.#redis.eval(CONSUME, 1, key, now())) as number;
    if (previous <= 0) return; // first use (0), or already gone (-1): oidc-provider decides
    if (withinOverlap(this.#name, previous, this.#policy)) return;
    const grantId = await this.#redis.hget(key, 'grantId');
    if (grantId) {
      await this.revokeByGrantId(grantId);
      await this.#redis.del(`${this.#prefix}Grant:${grantId}`);
    }
    throw replayError(this.#name, grantId ?? undefined);
  }

  async destroy(id: string) {
    await this.#redis.del(this.#key(id));
  }

  async revokeByGrantId(grantId: string) {
    const grantKey = this.#grantKey(grantId);
    const keys = await this.#redis.smembers(grantKey);
    if (!this.#redis.isCluster) {
      await this.#redis.del(grantKey, ...keys);
      return;
    }
    await Promise.all(keys.map((member) => this.#redis.del(member)));
    await this.#redis.del(grantKey);
  }
}

/**
 * Every live record of a model (operators: the admin CLI, the connected-apps page). SCAN
 * walks the keyspace in batches without blocking Redis; it costs a pass over every key, which
 * is fine for an operator's command or one user's page, not for a request path.
 */
export async function listRedisRecords(redis: RedisClient, model: string, prefix = 'oidc:'): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  const start = `${prefix}${model}:`;
  // SCAN is per server: on a cluster, every master's share of the keys.
  for (const node of primaries(redis)) {
    for await (const keys of node.scanStream({ match: `${start}*`, count: 500 }) as AsyncIterable<string[]>) {
      const payloads = await Promise.all(keys.map((key) => redis.hget(key, 'payload')));
      keys.forEach((key, index) => {
        const payload = payloads[index];
        if (payload) records.push({ id: key.slice(start.length), payload: JSON.parse(payload) as AdapterPayload });
      });
    }
  }
  return records.sort((a, b) => (a.id < b.id ? -1 : 1));
}
