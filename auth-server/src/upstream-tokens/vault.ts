import type { Adapter, AdapterFactory } from 'oidc-provider';
import type { Sealer } from './sealing.ts';
import type { UpstreamTokenSet } from './token-set.ts';

/**
 * The IdP's tokens, kept per MCP grant, sealed (sealing.ts), in the same store as everything
 * else through the oidc-provider Adapter interface — memory, SQLite and Redis alike.
 *
 * A login reaches its grant in three steps, because the grant does not exist yet when the
 * IdP answers:
 *   1. the upstream callback keeps the tokens under the login interaction (`keepLogin`);
 *   2. when oidc-provider resumes that interaction, the session is known (`attachLoginToSession`);
 *   3. when a code is issued in that session, its grant is known (`bindSessionToGrant`).
 * Steps 1 and 2 expire with the sign-in (15 minutes). Only step 3's record is used by the
 * token exchange. Its payload names the grant, so an adapter that revokes "everything of a
 * grant" (RFC 7009, refresh token reuse) removes it with the grant's tokens.
 */

interface Sealed {
  accountId: string;
  tokens: UpstreamTokenSet;
}

interface GrantRecord {
  grantId: string;
  sealed: string;
  /** Epoch seconds at which the record expires: lets a re-seal keep the same lifetime. */
  exp: number;
}

export const GRANT_MODEL = 'UpstreamToken';
export const LOGIN_MODEL = 'UpstreamLogin';

/** A sign-in that was started must be finished (consent included) within this many seconds. */
const PENDING_TTL = 15 * 60;

const now = () => Math.floor(Date.now() / 1000);

export class UpstreamTokenVault {
  readonly #grants: Adapter;
  readonly #logins: Adapter;
  readonly #sealer: Sealer;
  readonly #grantTtl: number;

  /** `grantTtl`: lifetime of a grant's record, the MCP grant's own (REFRESH_TOKEN_TTL). */
  constructor(adapter: AdapterFactory, sealer: Sealer, grantTtl: number) {
    this.#grants = adapter(GRANT_MODEL);
    this.#logins = adapter(LOGIN_MODEL);
    this.#sealer = sealer;
    this.#grantTtl = grantTtl;
  }

  async keepLogin(interactionUid: string, accountId: string, tokens: UpstreamTokenSet): Promise<void> {
    await this.#putLogin(`interaction:${interactionUid}`, { accountId, tokens });
  }

  async attachLoginToSession(interactionUid: string, sessionUid: string): Promise<void> {
    const id = `interaction:${interactionUid}`;
    const login = await this.#readLogin(id);
    if (!login) return;
    await this.#putLogin(`session:${sessionUid}`, login);
    await this.#logins.destroy(id);
  }

  async hasSessionLogin(sessionUid: string): Promise<boolean> {
    return (await this.#readLogin(`session:${sessionUid}`)) !== undefined;
  }

  /**
   * Moves the session's latest login to the grant; true when it did. Claimed with the
   * adapter's single-use `consume`, so of two codes issued at once only one grant gets it
   * (the other's token exchange asks the user to sign in again).
   */
  async bindSessionToGrant(sessionUid: string, accountId: string, grantId: string): Promise<boolean> {
    const id = `session:${sessionUid}`;
    const login = await this.#readLogin(id);
    if (!login || login.accountId !== accountId) return false;
    try {
      await this.#logins.consume(id);
    } catch {
      return false; // claimed by another grant meanwhile
    }
    await this.write(grantId, accountId, login.tokens);
    await this.#logins.destroy(id);
    return true;
  }

  async has(grantId: string): Promise<boolean> {
    const record = (await this.#grants.find(grantId)) as GrantRecord | undefined;
    return record !== undefined && record.exp > now();
  }

  /** The grant's upstream tokens, or undefined (none, another account's, or sealed with a retired key). */
  async read(grantId: string, accountId: string): Promise<UpstreamTokenSet | undefined> {
    const record = (await this.#grants.find(grantId)) as GrantRecord | undefined;
    if (!record || record.exp <= now()) return undefined;
    const opened = this.#sealer.open(record.sealed, `${GRANT_MODEL}:${grantId}`) as Sealed | undefined;
    if (!opened || opened.accountId !== accountId) return undefined;
    // After a key rotation, records move to the new key as they are read.
    if (this.#sealer.isStale(record.sealed)) await this.write(grantId, accountId, opened.tokens, record.exp - now());
    return opened.tokens;
  }

  async write(grantId: string, accountId: string, tokens: UpstreamTokenSet, ttl = this.#grantTtl): Promise<void> {
    const lifetime = Math.max(1, Math.floor(ttl));
    const record: GrantRecord = {
      grantId,
      sealed: this.#sealer.seal({ accountId, tokens } satisfies Sealed, `${GRANT_MODEL}:${grantId}`),
      exp: now() + lifetime,
    };
    await this.#grants.upsert(grantId, record as never, lifetime);
  }

  async drop(grantId: string): Promise<void> {
    await this.#grants.destroy(grantId);
  }

  async #putLogin(id: string, login: Sealed) {
    await this.#logins.upsert(id, { sealed: this.#sealer.seal(login, `${LOGIN_MODEL}:${id}`) }, PENDING_TTL);
  }

  async #readLogin(id: string): Promise<Sealed | undefined> {
    const stored = (await this.#logins.find(id)) as { sealed?: string; consumed?: unknown } | undefined;
    if (!stored?.sealed || stored.consumed) return undefined;
    return this.#sealer.open(stored.sealed, `${LOGIN_MODEL}:${id}`) as Sealed | undefined;
  }
}
