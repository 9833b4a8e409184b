/**
 * What the auth server keeps of an IdP token response: never the ID token (its claims are
 * already in the account), only what calling the IdP's APIs as the user needs.
 */
export interface UpstreamTokenSet {
  accessToken: string;
  refreshToken?: string | undefined;
  /** `Bearer`, as the IdP spelled it. */
  tokenType: string;
  /** Epoch seconds; undefined when the IdP did not say. */
  expiresAt?: number | undefined;
  scope?: string | undefined;
}

/** The fields of an OAuth token response this module reads (openid-client's TokenEndpointResponse fits). */
export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

export function tokenSetFrom(response: TokenResponse, nowSeconds = Math.floor(Date.now() / 1000)): UpstreamTokenSet {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    tokenType: response.token_type ?? 'Bearer',
    expiresAt: typeof response.expires_in === 'number' ? nowSeconds + response.expires_in : undefined,
    scope: response.scope,
  };
}
