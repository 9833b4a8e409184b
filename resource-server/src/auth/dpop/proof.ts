import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { normalizeHtu } from './htu.ts';

/**
 * One DPoP proof (RFC 9449 §4.3), checked on its own: a JWS with `typ: dpop+jwt`, an accepted
 * asymmetric `alg`, a public JWK (no private members) it is signed with, `htm` = the method,
 * `htu` = this request's URL, `iat` within [now − max age, now + tolerance], `jti`, and `ath`
 * = the hash of the access token it goes with. The binding to the token's `cnf.jkt`, the
 * nonce and the replay check are the gate's (check.ts). All JWS work is jose's.
 */

/** The proof is unusable: 401 `invalid_dpop_proof`. The message is safe to show. */
export class InvalidDpopProofError extends Error {
  override name = 'InvalidDpopProofError';
}

export interface ProofRequest {
  proof: string;
  method: string;
  /** This request's URL, normalised (htu.ts requestHtu). */
  htu: string;
  accessToken: string;
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  nonce: string | undefined;
}

// Members only a private (or symmetric) JWK has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_JTI_LENGTH = 256;

export class DpopProofVerifier {
  readonly #algorithms: string[];
  readonly #maxAgeSeconds: number;
  readonly #toleranceSeconds: number;
  // Clients send the same key with every proof: importing it and its thumbprint once per key
  // saves a third of the work. Keyed by the JWK as sent; bounded, oldest first out.
  readonly #keys = new Map<string, Promise<{ key: CryptoKey; jkt: string }>>();

  constructor(options: { algorithms: string[]; maxAgeSeconds: number; clockToleranceSeconds: number }) {
    this.#algorithms = options.algorithms;
    this.#maxAgeSeconds = options.maxAgeSeconds;
    this.#toleranceSeconds = options.clockToleranceSeconds;
  }

  async verify(request: ProofRequest): Promise<VerifiedProof> {
    let header;
    try {
      header = decodeProtectedHeader(request.proof);
    } catch {
      throw new InvalidDpopProofError('The DPoP proof is not a JWT.');
    }
    if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') throw new InvalidDpopProofError('The DPoP proof is not typed dpop+jwt.');
    if (typeof header.alg !== 'string' || !this.#algorithms.includes(header.alg))
      throw new InvalidDpopProofError('The DPoP proof is signed with an algorithm this server does not accept.');
    const jwk = header.jwk;
    if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new InvalidDpopProofError('The DPoP proof carries no public key (jwk).');
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw new InvalidDpopProofError('The key of the DPoP proof contains private key material.');
    const { key, jkt } = await this.#importKey(jwk, header.alg);

    let payload;
    try {
      ({ payload } = await jwtVerify(request.proof, key, { typ: 'dpop+jwt', algorithms: [header.alg] }));
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new InvalidDpopProofError('The DPoP proof signature is invalid.');
      throw new InvalidDpopProofError('The DPoP proof is invalid.');
    }

    if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > MAX_JTI_LENGTH)
      throw new InvalidDpopProofError('The DPoP proof has no usable jti.');
    if (payload.htm !== request.method) throw new InvalidDpopProofError('The DPoP proof is for another HTTP method (htm).');
    if (typeof payload.htu !== 'string' || normalizeHtu(payload.htu) !== request.htu)
      throw new InvalidDpopProofError('The DPoP proof is for another URL (htu).');
    // Whole seconds, as iat is: a proof issued within the same second as the limit still passes.
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== 'number') throw new InvalidDpopProofError('The DPoP proof has no iat.');
    if (payload.iat > now + this.#toleranceSeconds) throw new InvalidDpopProofError('The DPoP proof is issued in the future (iat).');
    if (payload.iat < now - this.#maxAgeSeconds) throw new InvalidDpopProofError('The DPoP proof is too old (iat).');
    if (payload.ath === undefined) throw new InvalidDpopProofError('The DPoP proof has no access token hash (ath).');
    if (payload.ath !== createHash('sha256').update(request.accessToken).digest('base64url'))
      throw new InvalidDpopProofError('The DPoP proof is for another access token (ath).');
    if (payload.nonce !== undefined && typeof payload.nonce !== 'string') throw new InvalidDpopProofError('The nonce of the DPoP proof is not a string.');
    return { jkt, jti: payload.jti, nonce: payload.nonce };
  }

  /** How long a jti must be remembered: as long as a proof with its iat is accepted. */
  get replayWindowSeconds(): number {
    return Math.ceil(this.#maxAgeSeconds + this.#toleranceSeconds);
  }

  #importKey(jwk: JWK, alg: string): Promise<{ key: CryptoKey; jkt: string }> {
    const id = `${alg} ${JSON.stringify(jwk)}`;
    let entry = this.#keys.get(id);
    if (!entry) {
      entry = (async () => {
        let key;
        try {
          if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error('use');
          if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error('alg');
          key = await importJWK(jwk, alg);
        } catch {
          throw new InvalidDpopProofError('The key of the DPoP proof (jwk) is not a usable public key for its algorithm.');
        }
        if (key instanceof Uint8Array || key.type !== 'public') throw new InvalidDpopProofError('The key of the DPoP proof contains private key material.');
        return { key, jkt: await calculateJwkThumbprint(jwk) };
      })();
      if (this.#keys.size >= 10_000) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(id, entry);
      // A key that did not import is not remembered: only good keys fill the cache.
      entry.catch(() => this.#keys.delete(id));
    }
    return entry;
  }
}
