import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { headerValues } from '../../http/raw-headers.ts';
import type { Logger } from '../../log.ts';
import { InvalidTokenError, type Caller } from '../verifier.ts';
import { requestHtu } from './htu.ts';
import { DpopNonces } from './nonces.ts';
import { DpopProofVerifier, InvalidDpopProofError } from './proof.ts';
import { createReplayCache, type ReplayCache } from './replay-cache.ts';
import type { DpopConfig } from './variables.ts';

/**
 * The DPoP step of the bearer gate, after the access token verified (maybe from the verified-
 * token cache: the proof is checked on every request regardless, each one is fresh):
 *  - a DPoP-bound token (`cnf.jkt`) only with the DPoP scheme, an unbound one only as Bearer,
 *    and in `required` mode no Bearer at all → else 401 `invalid_token`;
 *  - with the DPoP scheme, exactly one `DPoP` header holding a valid proof (proof.ts) of the
 *    key the token is bound to → else 401 `invalid_dpop_proof`;
 *  - with nonces on, the proof's nonce is one this server issued → else 401 `use_dpop_nonce`;
 *  - last, its jti was never accepted before (replay-cache.ts) → else `invalid_dpop_proof`.
 */

export type Scheme = 'Bearer' | 'DPoP';

/** The proof has no (or a stale) server nonce: 401 `use_dpop_nonce` with a fresh one. */
export class UseDpopNonceError extends Error {
  override name = 'UseDpopNonceError';
}

export interface DpopCheckDeps {
  config: DpopConfig;
  clockToleranceSeconds: number;
  /** RESOURCE_URL's origin: the scheme and host every htu must name. */
  resourceOrigin: string;
  replay: ReplayCache;
  nonces: DpopNonces | undefined;
}

export class DpopCheck {
  readonly #deps: DpopCheckDeps;
  readonly #proofs: DpopProofVerifier;

  constructor(deps: DpopCheckDeps) {
    this.#deps = deps;
    this.#proofs = new DpopProofVerifier({
      algorithms: deps.config.algorithms,
      maxAgeSeconds: deps.config.maxAgeSeconds,
      clockToleranceSeconds: deps.clockToleranceSeconds,
    });
  }

  get mode() {
    return this.#deps.config.mode;
  }

  get algorithms() {
    return this.#deps.config.algorithms;
  }

  close(): Promise<void> {
    return this.#deps.replay.close();
  }

  /** The nonce to hand out now (DPoP-Nonce), when nonces are on. */
  currentNonce(): string | undefined {
    return this.#deps.nonces?.current();
  }

  /**
   * Resolves when the credential may pass, to the nonce the client should use from now on when
   * its proof carried another; throws InvalidTokenError, InvalidDpopProofError, UseDpopNonceError
   * or ReplayCacheUnavailableError.
   */
  async check(request: FastifyRequest, scheme: Scheme, token: string, caller: Caller): Promise<{ nextNonce?: string }> {
    if (scheme === 'Bearer') {
      if (this.mode === 'required') throw new InvalidTokenError('This resource accepts only DPoP-bound access tokens, with the DPoP scheme and a proof.');
      if (caller.jkt) throw new InvalidTokenError('The access token is bound to a DPoP key: send it with the DPoP scheme and a DPoP proof.');
      return {};
    }
    if (!caller.jkt) throw new InvalidTokenError('The access token is not DPoP-bound: it cannot be used with the DPoP scheme.');

    const proofs = headerValues(request.raw.rawHeaders, 'dpop');
    if (proofs.length === 0) throw new InvalidDpopProofError('The request carries no DPoP proof.');
    if (proofs.length > 1 || proofs[0]!.includes(',')) throw new InvalidDpopProofError('The request carries more than one DPoP proof.');
    const proof = await this.#proofs.verify({
      proof: proofs[0]!.trim(),
      method: request.method,
      htu: requestHtu(this.#deps.resourceOrigin, request.url),
      accessToken: token,
    });
    if (proof.jkt !== caller.jkt) throw new InvalidDpopProofError('The DPoP proof is signed with another key than the one the access token is bound to.');

    const { nonces } = this.#deps;
    if (nonces) {
      if (proof.nonce === undefined) throw new UseDpopNonceError('This resource requires a nonce in DPoP proofs: use the DPoP-Nonce it sent.');
      if (!nonces.accepts(proof.nonce))
        throw new UseDpopNonceError('The nonce of the DPoP proof is not (or no longer) valid: use the DPoP-Nonce this response carries.');
    }
    if (!(await this.#deps.replay.firstUse(proof.jkt, proof.jti, this.#proofs.replayWindowSeconds))) {
      throw new InvalidDpopProofError('The DPoP proof was used before: every request needs a new proof (jti).');
    }
    const current = nonces?.current();
    return current !== undefined && current !== proof.nonce ? { nextNonce: current } : {};
  }
}

/** The DPoP step as the configuration says, its replay cache beside the notes (STORE). */
export function createDpopCheck(config: Config, logger: Logger): DpopCheck {
  return new DpopCheck({
    config: config.dpop,
    clockToleranceSeconds: config.clockTolerance,
    resourceOrigin: new URL(config.resourceUrl).origin,
    replay: createReplayCache(config.store, logger),
    nonces: config.dpop.nonceSecret ? new DpopNonces(config.dpop.nonceSecret) : undefined,
  });
}
