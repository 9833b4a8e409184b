import type { RefreshLock } from './refresh-lock.ts';
import type { UpstreamTokenSet } from './token-set.ts';
import type { UpstreamTokenVault } from './vault.ts';

/**
 * A usable upstream access token for a grant: the stored one while it lives, else one
 * refreshed at the IdP — once per grant at a time, across instances (refresh-lock.ts).
 */

/** The user has to sign in at the IdP again: no upstream tokens, or the IdP refused to refresh them. */
export class UpstreamSignInRequired extends Error {
  override name = 'UpstreamSignInRequired';
}

/** The IdP could not be reached or answered with something other than a refusal. */
export class UpstreamUnavailable extends Error {
  override name = 'UpstreamUnavailable';
}

/** What refreshing at the IdP answers; `refused` is the IdP's `invalid_grant`. */
export type RefreshResult = { ok: true; tokens: UpstreamTokenSet } | { ok: false; refused: boolean; reason: string };

export interface UpstreamAccessOptions {
  vault: UpstreamTokenVault;
  lock: RefreshLock;
  refresh: (refreshToken: string) => Promise<RefreshResult>;
  /** A token this close to expiry (seconds) is refreshed rather than handed out. */
  earlyRefreshSeconds?: number;
}

export class UpstreamAccess {
  readonly #options: UpstreamAccessOptions;
  readonly #early: number;

  constructor(options: UpstreamAccessOptions) {
    this.#options = options;
    this.#early = options.earlyRefreshSeconds ?? 60;
  }

  /** `ttl`: how long a refreshed record may live (what remains of the MCP grant). */
  async accessTokenFor(grantId: string, accountId: string, ttl?: number): Promise<UpstreamTokenSet> {
    const { vault, lock } = this.#options;
    const stored = await vault.read(grantId, accountId);
    if (!stored) throw new UpstreamSignInRequired('no upstream tokens are kept for this grant');
    if (this.#fresh(stored)) return stored;

    return lock.run(grantId, async () => {
      // Whoever held the lock before may have refreshed already.
      const current = await vault.read(grantId, accountId);
      if (!current) throw new UpstreamSignInRequired('no upstream tokens are kept for this grant');
      if (this.#fresh(current)) return current;
      if (!current.refreshToken) {
        await vault.drop(grantId);
        throw new UpstreamSignInRequired('the upstream access token expired and the IdP issued no refresh token');
      }
      const result = await this.#options.refresh(current.refreshToken);
      if (!result.ok) {
        if (result.refused) {
          await vault.drop(grantId);
          throw new UpstreamSignInRequired(`the IdP refused to refresh the upstream tokens (${result.reason})`);
        }
        throw new UpstreamUnavailable(`the IdP could not refresh the upstream tokens (${result.reason})`);
      }
      // An IdP that does not rotate answers without a refresh token: the old one stays valid.
      const next: UpstreamTokenSet = {
        ...result.tokens,
        refreshToken: result.tokens.refreshToken ?? current.refreshToken,
        scope: result.tokens.scope ?? current.scope,
      };
      await vault.write(grantId, accountId, next, ttl);
      return next;
    });
  }

  #fresh(tokens: UpstreamTokenSet): boolean {
    return tokens.expiresAt === undefined || tokens.expiresAt - this.#early > Math.floor(Date.now() / 1000);
  }
}
