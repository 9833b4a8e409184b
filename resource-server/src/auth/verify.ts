import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/server';

/**
 * Local verification of the AS's JWT access tokens (RFC 9068): signature against the
 * AS JWKS (discovered from its RFC 8414 metadata, cached by jose), pinned algorithms,
 * `typ: at+jwt`, `iss`, `aud` = this resource, `exp`/`nbf` with a small skew.
 * No call to the AS per request: the JWKS is fetched once and on unknown `kid`.
 */

export interface VerifierOptions {
  issuer: string;
  /** Back-channel base URL for the AS (containers); metadata and JWKS are fetched there. */
  internalUrl?: string | undefined;
  audience: string;
  algorithms: string[];
  clockTolerance: number;
}

/** The token is unusable: answer 401 `invalid_token`. The message is safe to show. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** The AS (metadata or JWKS) cannot be reached and nothing is cached: answer 503. */
export class AuthServerUnavailableError extends Error {
  override name = 'AuthServerUnavailableError';
}

/** What the tools see of the caller, from the verified token only. */
export interface Caller {
  subject: string;
  email: string | undefined;
  name: string | undefined;
  clientId: string;
  scopes: string[];
  expiresAt: number;
}

export class TokenVerifier {
  readonly #options: VerifierOptions;
  #jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  constructor(options: VerifierOptions) {
    this.#options = options;
  }

  async verify(token: string): Promise<AuthInfo> {
    // Garbage is refused before any key lookup, so it never costs a call to the AS.
    this.#checkHeader(token);
    const jwks = await this.#keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
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
    const caller = callerFrom(payload);
    return {
      token,
      clientId: caller.clientId,
      scopes: caller.scopes,
      expiresAt: caller.expiresAt,
      resource: new URL(this.#options.audience),
      extra: { caller },
    };
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

  /** Discovers the JWKS URI once; a failed discovery is retried on the next request. */
  #keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#jwks ??= this.#discoverKeySet().catch((error: unknown) => {
      this.#jwks = undefined;
      throw error;
    });
    return this.#jwks;
  }

  async #discoverKeySet() {
    const { issuer, internalUrl } = this.#options;
    const metadataUrl = backChannel(authorizationServerMetadataUrl(issuer), issuer, internalUrl);
    let metadata: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(metadataUrl, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      metadata = (await response.json()) as typeof metadata;
    } catch (error) {
      throw new AuthServerUnavailableError(`authorization server metadata unavailable at ${metadataUrl}: ${(error as Error).message}`);
    }
    if (metadata.issuer !== issuer) {
      throw new AuthServerUnavailableError(`authorization server metadata names issuer ${String(metadata.issuer)}, expected ${issuer}`);
    }
    if (typeof metadata.jwks_uri !== 'string') throw new AuthServerUnavailableError('authorization server metadata has no jwks_uri');
    return createRemoteJWKSet(new URL(backChannel(metadata.jwks_uri, issuer, internalUrl)), {
      timeoutDuration: 5000,
      // An unknown kid refetches the JWKS at most once per cooldown: forged kids cannot hammer the AS.
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }
}

/** RFC 8414 §3.1: the well-known suffix goes between the issuer's origin and its path. */
export function authorizationServerMetadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

function backChannel(url: string, issuer: string, internalUrl: string | undefined): string {
  if (!internalUrl) return url;
  const from = new URL(issuer).origin;
  return url.startsWith(from) ? new URL(internalUrl).origin + url.slice(from.length) : url;
}

function callerFrom(payload: JWTPayload): Caller {
  const scope = typeof payload.scope === 'string' ? payload.scope : '';
  return {
    subject: payload.sub!,
    email: typeof payload.email === 'string' ? payload.email : undefined,
    name: typeof payload.name === 'string' ? payload.name : undefined,
    clientId: String(payload.client_id),
    scopes: scope.split(' ').filter(Boolean),
    expiresAt: payload.exp!,
  };
}

function toVerificationError(error: unknown): Error {
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
  if (error instanceof joseErrors.JWKSTimeout) return new AuthServerUnavailableError('JWKS request timed out');
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new InvalidTokenError('The access token is signed with an algorithm this server does not accept.');
  if (error instanceof joseErrors.JOSEError) return new InvalidTokenError('The access token is invalid.');
  if (error instanceof TypeError) return new AuthServerUnavailableError(`JWKS unavailable: ${error.message}`);
  return new InvalidTokenError('The access token is invalid.');
}
