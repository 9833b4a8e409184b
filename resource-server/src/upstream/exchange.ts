import { backChannel, basicClientAuthorization, fetchAuthServerMetadata, type AuthServerLocation } from '../auth/as-metadata.ts';
import { UpstreamSignInRequired, UpstreamUnavailable } from './errors.ts';

/**
 * RFC 8693 token exchange at the AS, as this server's confidential client: the caller's MCP
 * access token (the subject token) for the user's access token at the upstream IdP. This is
 * the only place the MCP token is sent anywhere, and it goes to the AS that issued it.
 */

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface ExchangedToken {
  accessToken: string;
  tokenType: string;
  /** Epoch milliseconds; undefined when the AS did not say. */
  expiresAt: number | undefined;
  scope: string | undefined;
}

export interface TokenExchangeOptions extends AuthServerLocation {
  clientId: string;
  clientSecret: string;
  /** The upstream the token is for (the IdP's issuer). */
  audience: string;
  timeoutMs?: number;
}

export class TokenExchangeClient {
  readonly #options: TokenExchangeOptions;
  readonly #authorization: string;
  #endpoint: Promise<string> | undefined;

  constructor(options: TokenExchangeOptions) {
    this.#options = options;
    this.#authorization = basicClientAuthorization(options.clientId, options.clientSecret);
  }

  async exchange(subjectToken: string): Promise<ExchangedToken> {
    const endpoint = await this.#tokenEndpoint();
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
        headers: { authorization: this.#authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token: subjectToken,
          subject_token_type: ACCESS_TOKEN_TYPE,
          requested_token_type: ACCESS_TOKEN_TYPE,
          audience: this.#options.audience,
        }),
      });
    } catch (error) {
      throw new UpstreamUnavailable(`the authorization server cannot be reached (${(error as Error).name})`);
    }
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.status === 200 && typeof body.access_token === 'string') {
      return {
        accessToken: body.access_token,
        tokenType: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
        expiresAt: typeof body.expires_in === 'number' ? Date.now() + body.expires_in * 1000 : undefined,
        scope: typeof body.scope === 'string' ? body.scope : undefined,
      };
    }
    const error = typeof body.error === 'string' ? body.error : `HTTP ${response.status}`;
    const description = typeof body.error_description === 'string' ? body.error_description : '';
    if (error === 'invalid_grant') throw new UpstreamSignInRequired(description || 'the authorization server holds no usable upstream tokens for this sign-in');
    throw new UpstreamUnavailable(`token exchange refused: ${error}${description ? ` (${description})` : ''}`);
  }

  #tokenEndpoint(): Promise<string> {
    this.#endpoint ??= fetchAuthServerMetadata(this.#options)
      .then((metadata) => {
        if (typeof metadata.token_endpoint !== 'string') throw new UpstreamUnavailable('authorization server metadata has no token_endpoint');
        return backChannel(metadata.token_endpoint, this.#options);
      })
      .catch((error: unknown) => {
        this.#endpoint = undefined;
        throw error instanceof UpstreamUnavailable ? error : new UpstreamUnavailable('authorization server metadata unavailable');
      });
    return this.#endpoint;
  }
}
