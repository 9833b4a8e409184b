import { createLocalJWKSet, errors as joseErrors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { AuthServerUnavailableError } from './verifier.ts';

/**
 * The AS signing keys, cached. jose's createRemoteJWKSet almost fits, but it only starts
 * its cooldown after a *successful* fetch (so with the AS failing, every unknown kid
 * would call it again) and it refuses to verify once its cache is older than
 * cacheMaxAge and the AS cannot be reached. Here:
 *  - an unknown `kid` refetches at most once per cooldown, counted from the last attempt,
 *    success or not; concurrent misses share one fetch;
 *  - a set is refreshed behind the requests once it is past 80% of its max age, and a set
 *    past its max age is refreshed before it verifies again, whatever the cooldown — so a
 *    key the AS withdrew stops verifying within the max age. When that refresh fails, the
 *    cached keys keep verifying (the AS being down does not stop valid tokens) and the
 *    next attempt waits a second;
 *  - with nothing cached yet, fetch attempts are at most one per second.
 * Key selection (kid, alg, kty, use) is jose's createLocalJWKSet.
 */

export interface JwksCacheOptions {
  /** The JWKS URL; resolved (e.g. discovered from AS metadata) only when a fetch is due. */
  resolveUrl: () => Promise<string>;
  cooldownMs: number;
  maxAgeMs: number;
  timeoutMs?: number;
  onFetch?: (event: JwksFetchEvent) => void;
  /** Called after every successful fetch (the set may have changed). */
  onKeysChanged?: () => void;
}

export interface JwksFetchEvent {
  reason: 'initial' | 'unknown-kid' | 'expiring' | 'stale';
  ok: boolean;
  keys?: number;
  error?: string;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/** Between attempts while there are no keys yet, or while a stale set cannot be refreshed. */
const RETRY_MS = 1000;
/** Past this share of the max age, a refresh starts behind the request. */
const REFRESH_AHEAD = 0.8;

export class JwksCache {
  readonly #options: JwksCacheOptions;
  #local: LocalKeySet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
  }

  /** A jose key resolver (JWTVerifyGetKey) over the cache. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (!this.#local) {
      await this.#refresh('initial', RETRY_MS);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- #refresh sets #local; TypeScript keeps its narrowing across the call
      if (!this.#local) throw new AuthServerUnavailableError('the authorization server signing keys are not available yet');
    } else if (!this.fresh) {
      await this.#refresh('stale', RETRY_MS).catch(() => {});
    } else if (Date.now() - this.#fetchedAt > this.#options.maxAgeMs * REFRESH_AHEAD) {
      void this.#refresh('expiring', RETRY_MS).catch(() => {});
    }
    try {
      return await this.#local(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      // Perhaps the AS rotated its keys: look again, unless we looked recently.
      await this.#refresh('unknown-kid', this.#options.cooldownMs).catch(() => {});
      return this.#local(header, token);
    }
  };

  /** The cached set is younger than its max age: what it verified may be trusted without asking again. */
  get fresh(): boolean {
    return this.#local !== undefined && Date.now() - this.#fetchedAt <= this.#options.maxAgeMs;
  }

  /** Keys are cached, or can be fetched now. */
  async ready(): Promise<boolean> {
    if (this.#local) return true;
    await this.#refresh('initial', RETRY_MS).catch(() => {});
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- #refresh sets #local; TypeScript keeps its narrowing across the call
    return this.#local !== undefined;
  }

  /** Fetches unless an attempt (of any outcome) started less than `minIntervalMs` ago. */
  #refresh(reason: JwksFetchEvent['reason'], minIntervalMs: number): Promise<void> {
    if (this.#pending) return this.#pending;
    if (Date.now() - this.#attemptedAt < minIntervalMs) return Promise.resolve();
    this.#attemptedAt = Date.now();
    this.#pending = this.#fetch(reason).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(reason: JwksFetchEvent['reason']) {
    try {
      const url = await this.#options.resolveUrl();
      const response = await fetch(url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5000),
        headers: { accept: 'application/jwk-set+json, application/json' },
      });
      if (response.status !== 200) throw new Error(`HTTP ${response.status} from ${url}`);
      const jwks = (await response.json()) as JSONWebKeySet;
      this.#local = createLocalJWKSet(jwks); // throws on a malformed set: the old keys stay
      this.#fetchedAt = Date.now();
      this.#options.onKeysChanged?.();
      this.#options.onFetch?.({ reason, ok: true, keys: jwks.keys.length });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#options.onFetch?.({ reason, ok: false, error: message });
      throw new AuthServerUnavailableError(`JWKS unavailable: ${message}`);
    }
  }
}
