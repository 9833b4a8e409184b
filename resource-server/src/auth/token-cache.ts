import type { AuthInfo } from '@modelcontextprotocol/server';

/**
 * Tokens that verified, remembered for a short while so a client's next requests with the
 * same token skip the signature check (about 250 µs of ES256 through WebCrypto, most of the
 * cost of authorization; see bench/results.md). Safe because:
 *  - the key is the whole token string: only the exact bytes that verified can hit;
 *  - expiry is re-checked on every hit, and an entry lives at most `ttlMs`;
 *  - only successes are kept; the JWT verifier clears the cache whenever its key set
 *    changes and ignores it while the set is past its max age, so a key the AS withdrew
 *    stops verifying as soon as the set is refreshed, and the set is refreshed within its
 *    max age;
 *  - it is bounded (oldest entries go first).
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, { authInfo: AuthInfo; until: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: { ttlMs: number; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  get enabled() {
    return this.#ttlMs > 0;
  }

  /** The cached AuthInfo, unless absent, too old or (with `clockTolerance` seconds) expired. */
  get(token: string, clockTolerance: number): AuthInfo | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    const now = Date.now();
    if (now >= entry.until || (entry.authInfo.expiresAt ?? 0) + clockTolerance <= now / 1000) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry.authInfo;
  }

  set(token: string, authInfo: AuthInfo) {
    if (!this.enabled) return;
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, { authInfo, until: Date.now() + this.#ttlMs });
  }

  clear() {
    this.#entries.clear();
  }
}
