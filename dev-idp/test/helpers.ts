// Shared by dev-idp's tests: the repository's own dex/config.yaml, served on a free port,
// with openid-client as the relying party and ScriptedBrowser as the user's browser.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { ScriptedBrowser, type Page } from '../../test-support/scripted-browser.ts';
import { DEFAULT_DEX_CONFIG } from '../src/config.ts';
import { parseDexConfig, type DexConfig } from '../src/dex-config.ts';
import { startDevIdp, type DevIdp } from '../src/server.ts';

export const CLIENT_ID = 'mcp-auth-server';
export const CLIENT_SECRET = `test-secret-${randomBytes(12).toString('hex')}`;
/** Nothing listens here: the browser stops before following the redirect to it. */
export const REDIRECT_URI = 'http://127.0.0.1:1/upstream/callback';

export async function repoDexConfig(env: Record<string, string> = { IDP_CLIENT_SECRET: CLIENT_SECRET }): Promise<DexConfig> {
  return parseDexConfig(await readFile(DEFAULT_DEX_CONFIG, 'utf8'), env, DEFAULT_DEX_CONFIG);
}

export async function startTestIdp(options: { logger?: Logger } = {}): Promise<DevIdp> {
  return startDevIdp({
    dex: await repoDexConfig(),
    port: 0,
    redirectUris: { [CLIENT_ID]: [REDIRECT_URI] },
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

export async function relyingParty(idp: DevIdp, auth: client.ClientAuth = client.ClientSecretBasic(CLIENT_SECRET)) {
  return client.discovery(new URL(idp.issuer), CLIENT_ID, undefined, auth, {
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out: the dev IdP under test serves plain http on loopback
    execute: [client.allowInsecureRequests],
  });
}

export interface StartedLogin {
  browser: ScriptedBrowser;
  loginPage: Page;
  verifier: string;
  state: string;
  nonce: string;
}

/** Sends the browser to the authorization endpoint (code + PKCE S256) and returns the login page. */
export async function startLogin(config: client.Configuration, scope = 'openid email profile'): Promise<StartedLogin> {
  const browser = new ScriptedBrowser();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const loginPage = await browser.open(url, { stopAt: atRedirectUri });
  return { browser, loginPage, verifier, state, nonce };
}

export const atRedirectUri = (url: string) => url.startsWith(REDIRECT_URI);
