import type { AuthInfo } from '@modelcontextprotocol/server';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { fetchAuthServerMetadata, backChannel, type AuthServerLocation } from './as-metadata.ts';
import { JwksCache, type JwksFetchEvent } from './jwks.ts';
import { VerifiedTokenCache } from './token-cache.ts';
import { authInfoFor, AuthServerUnavailableError, callerFromClaims, InvalidTokenError, type Readiness, type TokenVerifier } from './verifier.ts';

/**
 * Local verification of the AS's JWT access tokens (RFC 9068): signature against the
 * AS JWKS (discovered from its RFC 8414 metadata, cached; see jwks.ts), pinned asymmetric
 * algorithms, `typ: at+jwt`, `iss`, `aud` = this resource, `exp`/`nbf` with a small skew.
 * No call to the AS per request.
 */

export interface JwtVerifierOptions extends AuthServerLocation {
  audience: string;
  /** Accepted JWS algorithms (asymmetric only; config refuses others). A key's own `alg` must match too. */
  algorithms: string[];
  clockTolerance: number;
  cooldownMs: number;
  maxAgeMs: number;
  /** How long a verified token is remembered (0: verify the signature on every request). */
  cacheTtlMs: number;
  onJwksFetch?: (event: JwksFetchEvent) => void;
  /** Told of each verification answered from the verified-token cache (metrics). */
  onCacheHit?: () => void;
}

export class JwtVerifier implements TokenVerifier {
  readonly #options: JwtVerifierOptions;
  readonly #keys: JwksCache;
  readonly #verified: VerifiedTokenCache;

  constructor(options: JwtVerifierOptions) {
    this.#options = options;
    this.#verified = new VerifiedTokenCache({ ttlMs: options.cacheTtlMs });
    this.#keys = new JwksCache({
      resolveUrl: () => this.#jwksUrl(),
      cooldownMs: options.cooldownMs,
      maxAgeMs: options.maxAgeMs,
      onKeysChanged: () => this.#verified.clear(),
      ...(options.onJwksFetch ? { onFetch: options.onJwksFetch } : {}),
    });
  }

  async verify(token: string): Promise<AuthInfo> {
    // A remembered verification is only as good as the key set it used: once that set is
    // past its max age, verify again (which refreshes the set first).
    const cached = this.#keys.fresh ? this.#verified.get(token, this.#options.clockTolerance) : undefined;
    if (cached) {
      this.#options.onCacheHit?.();
      return cached;
    }
    const authInfo = await this.#verify(token);
    this.#verified.set(token, authInfo);
    return authInfo;
  }

  async #verify(token: string): Promise<AuthInfo> {
    // Garbage, unsigned, HMAC and non-access tokens are refused before any key lookup,
    // so they never cost a call to the AS.
    this.#checkHeader(token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys.getKey, {
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        typ: 'at+jwt',
        algorithms: this.#options.algorithms,
        clockTolerance: this.#options.clockTolerance,
        requiredClaims: ['exp', 'sub', 'client_id'],
      }));
    } catch (error) {
      throw toVerificationError(error);
    }
    return authInfoFor(token, callerFromClaims(payload), this.#options.audience);
  }

  async readiness(): Promise<Readiness> {
    return (await this.#keys.ready())
      ? { ok: true, detail: 'authorization server signing keys cached' }
      : { ok: false, detail: 'authorization server signing keys unavailable' };
  }

  #checkHeader(token: string) {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new InvalidTokenError('The access token is not a JWT.');
    }
    if (typeof header.alg !== 'string' || !this.#options.algorithms.includes(header.alg)) {
      throw new InvalidTokenError('The access token is signed with an algorithm this server does not accept.');
    }
    if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== 'at+jwt') {
      throw new InvalidTokenError('The token is not an access token.');
    }
  }

  #jwksUri: string | undefined;
  async #jwksUrl(): Promise<string> {
    if (!this.#jwksUri) {
      const metadata = await fetchAuthServerMetadata(this.#options);
      if (typeof metadata.jwks_uri !== 'string') throw new AuthServerUnavailableError('authorization server metadata has no jwks_uri');
      this.#jwksUri = backChannel(metadata.jwks_uri, this.#options);
    }
    return this.#jwksUri;
  }
}

function toVerificationError(error: unknown): Error {
  if (error instanceof AuthServerUnavailableError || error instanceof InvalidTokenError) return error;
  if (error instanceof joseErrors.JWTExpired) return new InvalidTokenError('The access token expired.');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const reasons: Record<string, string> = {
      aud: 'The access token was issued for another resource.',
      iss: 'The access token was issued by an untrusted authorization server.',
      nbf: 'The access token is not valid yet.',
      typ: 'The token is not an access token.',
    };
    return new InvalidTokenError(reasons[error.claim] ?? `The access token's ${error.claim} claim is invalid.`);
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new InvalidTokenError('The access token is signed with a key this server does not know.');
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new InvalidTokenError('The access token is signed with an algorithm this server does not accept.');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new InvalidTokenError('The access token signature is invalid.');
  return new InvalidTokenError('The access token is invalid.');
}
