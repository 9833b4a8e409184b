import type { ExchangedToken } from './exchange.ts';

/**
 * Exchanged upstream tokens, remembered until shortly before they expire (and never past the
 * MCP access token they were obtained with), so a burst of tool calls makes one exchange.
 * Concurrent misses for one key share a single exchange.
 *
 * The key is per MCP access token, not per grant: a token from introspection may carry no
 * grant id, and a refreshed MCP token simply exchanges once more.
 */

export interface UpstreamTokenCacheOptions {
  /** Handed out only while it has at least this long to live. */
  marginMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  token: ExchangedToken;
  until: number;
}

export class UpstreamTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<ExchangedToken>>();
  readonly #marginMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: UpstreamTokenCacheOptions = {}) {
    this.#marginMs = options.marginMs ?? 30_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The cached token for `key`, or the one `obtain` resolves to; `notAfter`: the MCP token's expiry (ms). */
  async get(key: string, notAfter: number, obtain: () => Promise<ExchangedToken>): Promise<ExchangedToken> {
    const cached = this.#entries.get(key);
    if (cached && cached.until > this.#now()) return cached.token;
    if (cached) this.#entries.delete(key);

    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = obtain()
        .then((token) => {
          this.#remember(key, token, notAfter);
          return token;
        })
        .finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** The upstream API refused the token: never hand it out again. */
  forget(key: string) {
    this.#entries.delete(key);
  }

  #remember(key: string, token: ExchangedToken, notAfter: number) {
    // An expiry the AS did not state is not guessed at: such a token is used once.
    if (token.expiresAt === undefined) return;
    const until = Math.min(token.expiresAt - this.#marginMs, notAfter);
    if (until <= this.#now()) return;
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { token, until });
  }
}
