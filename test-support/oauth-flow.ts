/**
 * The client side of an OAuth authorization code flow against the real auth server,
 * for tests: DCR, PKCE, the browser leg through the IdP login form and the consent page
 * (ScriptedBrowser), and the token request. Plain fetch so tests can see every status.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ScriptedBrowser, type Page } from './scripted-browser.ts';

export interface DemoUser {
  login: string;
  password: string;
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export async function registerClient(issuer: string, metadata: Record<string, unknown> = {}) {
  const response = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'test client',
      redirect_uris: ['http://127.0.0.1:8976/callback'],
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...metadata,
    }),
  });
  const body = (await response.json()) as Record<string, unknown> & { client_id: string; redirect_uris: string[] };
  return { status: response.status, body };
}

export function authorizationUrl(issuer: string, params: Record<string, string | undefined>): string {
  const url = new URL(`${issuer}/auth`);
  url.searchParams.set('response_type', 'code');
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.href;
}

/**
 * Walks the browser from the authorization URL to the client's redirect URI: fills the
 * IdP's login form when shown, presses Allow (or Deny) on the consent page, and stops at
 * the redirect to `redirectUri` without following it. Returns the callback URL.
 */
export async function authorizeInBrowser(
  browser: ScriptedBrowser,
  url: string,
  options: { redirectUri: string; user: DemoUser; decision?: 'Allow' | 'Deny' },
): Promise<{ callback: URL; pagesSeen: Page[] }> {
  const stopAt = (target: string) => target.startsWith(options.redirectUri);
  const pagesSeen: Page[] = [];
  let page = await browser.open(url, { stopAt });
  for (let step = 0; step < 5 && !page.stoppedAt; step++) {
    pagesSeen.push(page);
    const form = page.forms[0];
    if (!form) throw new Error(`no form on ${page.url} (HTTP ${page.status}): ${page.text().slice(0, 300)}`);
    if (form.fieldNames.has('password')) {
      page = await browser.submitForm(page, { fields: { login: options.user.login, password: options.user.password }, stopAt });
    } else {
      page = await browser.submitForm(page, { button: options.decision ?? 'Allow', stopAt });
    }
  }
  if (!page.stoppedAt) throw new Error(`the flow did not return to the client: ended on ${page.url}`);
  return { callback: new URL(page.stoppedAt), pagesSeen };
}

/**
 * The browser leg for one client with PKCE S256: builds the authorization URL (any extra
 * parameters as given, undefined ones left out) and walks it with `authorizeInBrowser`.
 * Returns the callback, the pages seen and the PKCE verifier for the code exchange.
 */
export async function authorizeClient(options: {
  issuer: string;
  clientId: string;
  redirectUri: string;
  user: DemoUser;
  params?: Record<string, string | undefined>;
  browser?: ScriptedBrowser;
  decision?: 'Allow' | 'Deny';
}) {
  const { verifier, challenge } = pkce();
  const url = authorizationUrl(options.issuer, {
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...options.params,
  });
  const result = await authorizeInBrowser(options.browser ?? new ScriptedBrowser(), url, {
    redirectUri: options.redirectUri,
    user: options.user,
    ...(options.decision ? { decision: options.decision } : {}),
  });
  return { ...result, verifier };
}

export async function tokenRequest(issuer: string, params: Record<string, string | undefined>) {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) body.set(key, value);
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Registration, browser leg and code exchange in one: an access token for `user`. */
export async function obtainAccessToken(options: {
  issuer: string;
  resource: string;
  user: DemoUser;
  scope?: string;
  browser?: ScriptedBrowser;
  /** Registration metadata overrides (e.g. application_type: 'web'). */
  clientMetadata?: Record<string, unknown>;
}) {
  const { body: client } = await registerClient(options.issuer, options.clientMetadata);
  const redirectUri = client.redirect_uris[0]!;
  const { callback, verifier } = await authorizeClient({
    issuer: options.issuer,
    clientId: client.client_id,
    redirectUri,
    user: options.user,
    ...(options.browser ? { browser: options.browser } : {}),
    params: { scope: options.scope ?? 'mcp:tools mcp:resources mcp:prompts', resource: options.resource, state: randomBytes(8).toString('hex') },
  });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in the authorization response: ${callback.searchParams.get('error')}`);
  const tokens = await tokenRequest(options.issuer, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: client.client_id,
    resource: options.resource,
  });
  if (tokens.status !== 200) throw new Error(`token request failed: ${JSON.stringify(tokens.body)}`);
  return { clientId: client.client_id, tokens: tokens.body as { access_token: string; refresh_token?: string; scope?: string } };
}
