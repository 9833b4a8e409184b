/**
 * An OAuthClientProvider for the MCP SDK clients (v2 `@modelcontextprotocol/client` and
 * v1 `@modelcontextprotocol/sdk`; both read the same shape) whose browser is a
 * ScriptedBrowser: redirectToAuthorization logs the demo user in at the IdP, presses Allow
 * on the consent page and keeps the callback URL, which the test hands to
 * `transport.finishAuth()` as a real client's callback handler would.
 * State lives in memory, per instance; nothing else is faked.
 */
import { authorizeInBrowser, type DemoUser } from './oauth-flow.ts';
import { ScriptedBrowser } from './scripted-browser.ts';

// Structural copies of the SDK types the provider touches (both SDK lines agree on them).
type Json = Record<string, unknown>;
type Tokens = { access_token: string; token_type: string; scope?: string; refresh_token?: string } & Json;
type ClientInformation = { client_id: string } & Json;

export interface ScriptedOAuthProviderOptions {
  user: DemoUser;
  /** Loopback redirect URI registered by DCR; nothing listens there, the browser stops at it. */
  redirectUri?: string;
  clientName?: string;
  /** Grant types to register (default authorization_code + refresh_token). */
  grantTypes?: string[];
  browser?: ScriptedBrowser;
}

export class ScriptedOAuthProvider {
  readonly #options: ScriptedOAuthProviderOptions;
  readonly #browser: ScriptedBrowser;
  #client: ClientInformation | undefined;
  #tokens: Tokens | undefined;
  #verifier: string | undefined;
  #discovery: unknown;
  #state: string | undefined;
  /** Every authorization URL the SDK sent the browser to, in order. */
  readonly authorizationUrls: URL[] = [];
  /** The callback of the last authorization: pass its searchParams to transport.finishAuth(). */
  lastCallback: URL | undefined;

  constructor(options: ScriptedOAuthProviderOptions) {
    this.#options = options;
    this.#browser = options.browser ?? new ScriptedBrowser();
  }

  get redirectUrl(): string {
    return this.#options.redirectUri ?? 'http://127.0.0.1:8976/callback';
  }

  get clientMetadata() {
    return {
      client_name: this.#options.clientName ?? 'SDK test client',
      redirect_uris: [this.redirectUrl],
      grant_types: this.#options.grantTypes ?? ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
  }

  state(): string {
    this.#state = crypto.randomUUID();
    return this.#state;
  }

  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: ClientInformation) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: Tokens) {
    this.#tokens = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier(): string {
    if (!this.#verifier) throw new Error('no code verifier saved');
    return this.#verifier;
  }
  saveDiscoveryState(state: unknown) {
    this.#discovery = state;
  }
  discoveryState() {
    return this.#discovery as never;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'client') this.#client = undefined;
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.#verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.#discovery = undefined;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrls.push(url);
    const { callback } = await authorizeInBrowser(this.#browser, url.href, { redirectUri: this.redirectUrl, user: this.#options.user });
    if (callback.searchParams.get('state') !== this.#state) throw new Error('state mismatch in the authorization response');
    this.lastCallback = callback;
  }

  /** The callback query of the last authorization, as finishAuth takes it. */
  callbackParams(): URLSearchParams {
    if (!this.lastCallback) throw new Error('no authorization has completed');
    return this.lastCallback.searchParams;
  }

  /** The code of the last authorization, for finishAuth(code) (the v1 client's form). */
  callbackCode(): string {
    const code = this.callbackParams().get('code');
    if (!code) throw new Error(`no code in the authorization response: ${this.callbackParams().get('error')}`);
    return code;
  }
}
