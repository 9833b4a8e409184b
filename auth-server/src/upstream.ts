import * as client from 'openid-client';
import { tokenSetFrom, type UpstreamTokenSet } from './upstream-tokens/token-set.ts';

/**
 * The auth server as a relying party of the upstream IdP (Dex, or any OIDC provider):
 * discovery, the authorization URL the browser is sent to, and the code exchange.
 * Login is never handled here: the IdP sees passwords, this server sees ID tokens.
 */

export interface UpstreamOptions {
  issuer: string;
  /** Back-channel base URL when the public issuer is not reachable from this host. */
  internalUrl?: string | undefined;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scopes: string;
}

/** What the login interaction must remember between the redirect out and the callback. */
export interface UpstreamAttempt {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface UpstreamIdentity {
  sub: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
}

export class UpstreamIdp {
  readonly #options: UpstreamOptions;
  #configuration: Promise<client.Configuration> | undefined;

  constructor(options: UpstreamOptions) {
    this.#options = options;
  }

  /** Discovery runs once, lazily, and is retried after a failure (the IdP may start later). */
  configuration(): Promise<client.Configuration> {
    this.#configuration ??= this.#discover().catch((error: unknown) => {
      this.#configuration = undefined;
      throw error;
    });
    return this.#configuration;
  }

  async #discover(): Promise<client.Configuration> {
    const { issuer, internalUrl, clientId, clientSecret } = this.#options;
    const options: client.DiscoveryRequestOptions = {};
    if (internalUrl) options[client.customFetch] = backChannelFetch(issuer, internalUrl);
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out: an http: issuer is a development IdP
    if (issuer.startsWith('http:')) options.execute = [client.allowInsecureRequests];
    return client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(clientSecret), options);
  }

  /** Whether the IdP's discovery document answers now (for /readyz). */
  async ping(): Promise<boolean> {
    const { issuer, internalUrl } = this.#options;
    const url = `${issuer}/.well-known/openid-configuration`;
    const target = internalUrl ? new URL(internalUrl).origin + url.slice(new URL(issuer).origin.length) : url;
    try {
      return (await fetch(target, { signal: AbortSignal.timeout(2000) })).ok;
    } catch {
      return false;
    }
  }

  /**
   * Authorization code + PKCE (S256) + state + nonce. `stateLabel` is a non-secret prefix
   * of the state that lets the callback find the interaction it belongs to.
   */
  async start(stateLabel: string): Promise<{ url: URL; attempt: UpstreamAttempt }> {
    const config = await this.configuration();
    const attempt: UpstreamAttempt = {
      state: `${stateLabel}.${client.randomState()}`,
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#options.redirectUri,
      scope: offeredScopes(this.#options.scopes, config.serverMetadata().scopes_supported),
      state: attempt.state,
      nonce: attempt.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(attempt.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, attempt };
  }

  /** Validates the callback (state, iss, code, ID token signature, nonce) and returns who logged in. */
  async finish(callbackUrl: URL, attempt: UpstreamAttempt): Promise<UpstreamIdentity> {
    return (await this.finishWithTokens(callbackUrl, attempt)).identity;
  }

  /** As `finish`, with the IdP's access and refresh tokens (for the token vault, never for the account). */
  async finishWithTokens(callbackUrl: URL, attempt: UpstreamAttempt): Promise<{ identity: UpstreamIdentity; tokens: UpstreamTokenSet }> {
    const config = await this.configuration();
    // The callback arrives at this server's public URL; openid-client needs the redirect_uri
    // as registered, which is exactly that URL with the response parameters.
    const current = new URL(this.#options.redirectUri);
    current.search = callbackUrl.search;
    const tokens = await client.authorizationCodeGrant(config, current, {
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
      pkceCodeVerifier: attempt.codeVerifier,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the IdP returned no ID token');
    const identity = {
      sub: claims.sub,
      email: typeof claims.email === 'string' ? claims.email : undefined,
      emailVerified: typeof claims.email_verified === 'boolean' ? claims.email_verified : undefined,
      name: typeof claims.name === 'string' ? claims.name : undefined,
    };
    return { identity, tokens: tokenSetFrom(tokens) };
  }
}

/** `offline_access` only when the IdP lists it (an IdP that does not may refuse the request). */
export function offeredScopes(scopes: string, supported: readonly string[] | undefined): string {
  const requested = scopes.split(' ').filter(Boolean);
  return requested.filter((scope) => scope !== 'offline_access' || !supported || supported.includes(scope)).join(' ');
}

/**
 * A fetch that sends requests for the public issuer's origin to the internal URL instead,
 * so that in containers metadata and tokens keep the public issuer while the calls go
 * over the internal network.
 */
export function backChannelFetch(publicIssuer: string, internalUrl: string): client.CustomFetch {
  const from = new URL(publicIssuer).origin;
  const to = new URL(internalUrl).origin;
  return (url, options) => {
    const target = url.startsWith(from) ? to + url.slice(from.length) : url;
    return fetch(target, options);
  };
}
