import { backChannel } from '../auth/as-metadata.ts';
import { UpstreamSignInRequired, UpstreamUnavailable } from './errors.ts';

/**
 * The IdP's OIDC userinfo endpoint (discovered from its issuer), called with the user's
 * upstream access token: what the IdP itself says about the user.
 */
export interface IdpLocation {
  issuer: string;
  /** Back-channel base URL when the issuer is not reachable from here (containers). */
  internalUrl?: string | undefined;
}

export class IdpUserinfo {
  readonly #location: IdpLocation;
  #endpoint: Promise<string> | undefined;

  constructor(location: IdpLocation) {
    this.#location = location;
  }

  async fetch(accessToken: string, tokenType = 'Bearer'): Promise<Record<string, unknown>> {
    const endpoint = await this.#userinfoEndpoint();
    let response: Response;
    try {
      response = await fetch(endpoint, {
        headers: { authorization: `${tokenType} ${accessToken}`, accept: 'application/json' },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new UpstreamUnavailable(`the identity provider cannot be reached (${(error as Error).name})`);
    }
    if (response.status === 401) throw new UpstreamSignInRequired('the identity provider no longer accepts the upstream access token');
    if (!response.ok) throw new UpstreamUnavailable(`the identity provider's userinfo endpoint answered HTTP ${response.status}`);
    const claims = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!claims || typeof claims.sub !== 'string') throw new UpstreamUnavailable('the identity provider answered userinfo without a subject');
    return claims;
  }

  #userinfoEndpoint(): Promise<string> {
    this.#endpoint ??= (async () => {
      const { issuer } = this.#location;
      const response = await fetch(backChannel(`${issuer}/.well-known/openid-configuration`, this.#location), { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const metadata = (await response.json()) as { issuer?: unknown; userinfo_endpoint?: unknown };
      if (metadata.issuer !== issuer || typeof metadata.userinfo_endpoint !== 'string') throw new Error('no userinfo_endpoint for this issuer');
      return backChannel(metadata.userinfo_endpoint, this.#location);
    })().catch((error: unknown) => {
      this.#endpoint = undefined;
      throw new UpstreamUnavailable(`the identity provider's discovery document is unavailable (${(error as Error).message})`);
    });
    return this.#endpoint;
  }
}
