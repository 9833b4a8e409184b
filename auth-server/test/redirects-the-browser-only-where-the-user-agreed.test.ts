/**
 * Where the auth server sends a browser, and when it asks first:
 * - an authorization returning to a loopback redirect URI asks for consent every time, so
 *   a program listening on another local port cannot collect the user's code silently;
 * - a loopback redirect URI matches its registration on any port but on nothing else:
 *   no userinfo, no dot segments;
 * - an error at the authorization endpoint is redirected automatically only to the
 *   operator's clients; a self-registered one gets a page with a link (RFC 9700 §4.11.2);
 * - RP-initiated logout is not offered.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationUrl, authorizeClient, pkce, registerClient } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let stack: Stack;
const OPERATOR_REDIRECT = 'https://operator-app.example/callback';

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'redirect-clients-'));
  const clientsFile = join(dir, 'clients.yaml');
  await writeFile(
    clientsFile,
    [
      'clients:',
      '  - client_id: operator-app',
      '    token_endpoint_auth_method: none',
      '    grant_types: [authorization_code, refresh_token]',
      `    redirect_uris: ['${OPERATOR_REDIRECT}']`,
    ].join('\n'),
  );
  stack = await startStack({ authServerEnv: { CLIENTS_FILE: clientsFile, RATE_LIMIT_REGISTRATION: '1000' } });
});
afterAll(async () => {
  await stack?.close();
});

const isConsentPage = (text: string) => text.includes('to access your MCP server');

async function webClient(redirectUri: string) {
  const { status, body } = await registerClient(stack.authServerIssuer, { redirect_uris: [redirectUri], application_type: 'web' });
  expect(status).toBe(201);
  return body.client_id;
}

function authorizeAgain(browser: ScriptedBrowser, clientId: string, redirectUri: string) {
  return authorizeClient({
    issuer: stack.authServerIssuer,
    clientId,
    redirectUri,
    user: DEMO_USERS.alice,
    browser,
    params: { scope: 'mcp:tools', resource: stack.mcpUrl },
  });
}

describe('consent for loopback redirect URIs', () => {
  it('asks again when the same web client returns to another loopback port', async () => {
    const clientId = await webClient('http://127.0.0.1/callback');
    const browser = new ScriptedBrowser();
    const first = await authorizeAgain(browser, clientId, 'http://127.0.0.1:5110/callback');
    expect(first.callback.searchParams.get('code')).toBeTruthy();
    expect(first.pagesSeen.some((page) => isConsentPage(page.text()))).toBe(true);

    const second = await authorizeAgain(browser, clientId, 'http://127.0.0.1:5111/callback');
    expect(second.pagesSeen.some((page) => isConsentPage(page.text()))).toBe(true);
    expect(second.pagesSeen.some((page) => page.forms[0]?.fieldNames.has('password'))).toBe(false); // signed in already: only consent
    expect(second.callback.searchParams.get('code')).toBeTruthy();
  });

  it('asks again on the same loopback port too (another program may hold it now)', async () => {
    const clientId = await webClient('http://localhost:6274/oauth/callback');
    const browser = new ScriptedBrowser();
    await authorizeAgain(browser, clientId, 'http://localhost:6274/oauth/callback');
    const second = await authorizeAgain(browser, clientId, 'http://localhost:6274/oauth/callback');
    expect(second.pagesSeen.some((page) => isConsentPage(page.text()))).toBe(true);
  });

  it('remembers consent for a web client on an https redirect URI', async () => {
    const clientId = await webClient('https://app.example.com/callback');
    const browser = new ScriptedBrowser();
    await authorizeAgain(browser, clientId, 'https://app.example.com/callback');
    const second = await authorizeAgain(browser, clientId, 'https://app.example.com/callback');
    expect(second.pagesSeen).toEqual([]);
    expect(second.callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('loopback redirect URI matching', () => {
  it.each([
    ['userinfo before the host', 'http://evil.example@127.0.0.1:5110/callback'],
    ['empty userinfo', 'http://@127.0.0.1:5110/callback'],
    ['dot segments', 'http://127.0.0.1:5110/x/../callback'],
    ['an encoded dot segment', 'http://127.0.0.1:5110/%2e%2e/callback'],
    ['another path', 'http://127.0.0.1:5110/callback/other'],
    ['a query the registration has not', 'http://127.0.0.1:5110/callback?next=https://evil.example'],
  ])('refuses %s without redirecting', async (_name, redirectUri) => {
    const clientId = await webClient('http://127.0.0.1/callback');
    const url = authorizationUrl(stack.authServerIssuer, {
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    const page = await new ScriptedBrowser().open(url, { stopAt: (target) => !target.startsWith(stack.authServerIssuer) });
    expect(page.stoppedAt).toBeUndefined();
    expect(page.status).toBe(400);
    expect(page.text()).toContain('redirect_uri');
  });
});

describe('authorization errors', () => {
  async function errorAt(clientId: string, redirectUri: string) {
    const url = authorizationUrl(stack.authServerIssuer, {
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'mcp:tools',
      resource: 'https://not-served-here.example/mcp',
      state: 'xyz',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    return new ScriptedBrowser().open(url, { stopAt: (target) => !target.startsWith(stack.authServerIssuer) });
  }

  it('are shown, not redirected, for a self-registered client, with a link back the user may follow', async () => {
    const redirectUri = 'https://attacker.example/landing';
    const clientId = await webClient(redirectUri);
    const page = await errorAt(clientId, redirectUri);
    expect(page.stoppedAt).toBeUndefined();
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_target');
    const link = page.$('a').attr('href');
    expect(link).toBeDefined();
    const back = new URL(link!);
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('error')).toBe('invalid_target');
    expect(back.searchParams.get('state')).toBe('xyz');
    expect(back.searchParams.get('iss')).toBe(stack.authServerIssuer);
  });

  it('are redirected for an operator-registered client', async () => {
    const page = await errorAt('operator-app', OPERATOR_REDIRECT);
    expect(page.stoppedAt).toBeDefined();
    const back = new URL(page.stoppedAt!);
    expect(back.searchParams.get('error')).toBe('invalid_target');
  });

  it('after the user denied on the consent page, return to any client', async () => {
    const redirectUri = 'https://app.example.com/denied';
    const clientId = await webClient(redirectUri);
    const { callback } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId,
      redirectUri,
      user: DEMO_USERS.bob,
      decision: 'Deny',
      params: { scope: 'mcp:tools', resource: stack.mcpUrl },
    });
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });
});

describe('RP-initiated logout', () => {
  it('is not offered: no end_session_endpoint, /session/end not served, post_logout_redirect_uris not registered', async () => {
    const metadata = (await (await fetch(`${stack.authServerIssuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.end_session_endpoint).toBeUndefined();
    const logout = await fetch(`${stack.authServerIssuer}/session/end?client_id=x&post_logout_redirect_uri=https://evil.example/`, { redirect: 'manual' });
    expect(logout.status).toBe(404);
    const { status, body } = await registerClient(stack.authServerIssuer, { post_logout_redirect_uris: ['https://evil.example/'] });
    expect(status).toBe(201);
    expect(body.post_logout_redirect_uris).toBeUndefined();
  });
});
