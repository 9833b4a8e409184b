import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * dev-idp's own state — its login sessions and the codes and tokens it issues to the auth
 * server — in this process, on purpose: it is a development IdP, and a restart only means
 * signing in at it again (the auth server keeps its own state). Given explicitly so that
 * oidc-provider does not warn about state lost on restart, which would read as a warning
 * about the stack's state.
 */
type Records = Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>;

/** One store per dev-idp instance: a restarted dev-idp forgets what it issued, as Dex without storage does. */
export function inProcessStore(): (model: string) => Adapter {
  const records: Records = new Map();
  return (model) => new ProcessAdapter(model, records);
}

class ProcessAdapter implements Adapter {
  readonly #records: Records;
  readonly #model: string;

  constructor(model: string, records: Records) {
    this.#model = model;
    this.#records = records;
  }

  #key(id: string) {
    return `${this.#model}:${id}`;
  }

  #live(key: string) {
    const record = this.#records.get(key);
    if (record?.expiresAt !== undefined && record.expiresAt <= Date.now()) {
      this.#records.delete(key);
      return undefined;
    }
    return record?.payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    this.#records.set(this.#key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    if (payload.uid)
      this.#records.set(`${this.#model}:uid:${payload.uid}`, { payload: { id }, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
  }

  async find(id: string) {
    return this.#live(this.#key(id));
  }

  async findByUid(uid: string) {
    const pointer = this.#live(`${this.#model}:uid:${uid}`) as { id?: string } | undefined;
    return pointer?.id ? this.find(pointer.id) : undefined;
  }

  async findByUserCode() {
    return undefined; // no device flow
  }

  async consume(id: string) {
    const payload = this.#live(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string) {
    this.#records.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string) {
    for (const [key, record] of this.#records) if (record.payload.grantId === grantId) this.#records.delete(key);
  }
}
