import type { AuthInfo } from '@modelcontextprotocol/server';
import { backChannel, basicClientAuthorization, fetchAuthServerMetadata, type AuthServerLocation } from './as-metadata.ts';
import { authInfoFor, AuthServerUnavailableError, callerFromClaims, InvalidTokenError, type Readiness, type TokenVerifier } from './verifier.ts';

/**
 * RFC 7662 token introspection on every request, as a confidential client of the AS
 * (client_secret_basic). The alternative to local JWT verification: it sees revocations
 * at once, and costs a round trip to the AS per request (see bench/results.md).
 */

export interface IntrospectionVerifierOptions extends AuthServerLocation {
  audience: string;
  clientId: string;
  clientSecret: string;
  clockTolerance: number;
  timeoutMs?: number;
}

export class IntrospectionVerifier implements TokenVerifier {
  readonly #options: IntrospectionVerifierOptions;
  readonly #authorization: string;
  #endpoint: Promise<string> | undefined;

  constructor(options: IntrospectionVerifierOptions) {
    this.#options = options;
    this.#authorization = basicClientAuthorization(options.clientId, options.clientSecret);
  }

  async verify(token: string): Promise<AuthInfo> {
    const endpoint = await this.#introspectionEndpoint();
    let claims: Record<string, unknown>;
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5000),
        headers: { authorization: this.#authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (response.status !== 200) {
        const answer = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
        throw new Error(`HTTP ${response.status}${answer.error ? ` ${answer.error}: ${answer.error_description ?? ''}` : ''}`);
      }
      claims = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      throw new AuthServerUnavailableError(`token introspection failed: ${(error as Error).message}`);
    }
    if (claims.active !== true) throw new InvalidTokenError('The access token is not active.');
    const now = Math.floor(Date.now() / 1000);
    const tolerance = this.#options.clockTolerance;
    if (typeof claims.exp !== 'number' || claims.exp <= now - tolerance) throw new InvalidTokenError('The access token expired.');
    if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) throw new InvalidTokenError('The access token is not valid yet.');
    if (claims.iss !== undefined && claims.iss !== this.#options.issuer) {
      throw new InvalidTokenError('The access token was issued by an untrusted authorization server.');
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.#options.audience)) throw new InvalidTokenError('The access token was issued for another resource.');
    if (typeof claims.token_type === 'string' && /refresh/i.test(claims.token_type)) throw new InvalidTokenError('The token is not an access token.');
    if (typeof claims.sub !== 'string' || typeof claims.client_id !== 'string') throw new InvalidTokenError('The access token is invalid.');
    return authInfoFor(token, callerFromClaims(claims), this.#options.audience);
  }

  async readiness(): Promise<Readiness> {
    try {
      await this.#introspectionEndpoint();
      return { ok: true, detail: 'introspection endpoint known' };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  #introspectionEndpoint(): Promise<string> {
    this.#endpoint ??= fetchAuthServerMetadata(this.#options)
      .then((metadata) => {
        if (typeof metadata.introspection_endpoint !== 'string') {
          throw new AuthServerUnavailableError('authorization server metadata has no introspection_endpoint');
        }
        return backChannel(metadata.introspection_endpoint, this.#options);
      })
      .catch((error: unknown) => {
        this.#endpoint = undefined;
        throw error;
      });
    return this.#endpoint;
  }
}
