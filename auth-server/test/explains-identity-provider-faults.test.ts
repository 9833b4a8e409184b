/**
 * When the upstream IdP is down or its answer is broken, the browser gets a page that says
 * which: unavailable (503, try again shortly), a malformed answer (400, start again), and
 * never a generic 500. The IdP (real dev-idp) is stopped and started by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationUrl, pkce, registerClient } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser, type Page } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let stack: Stack;
let clientId: string;
const redirectUri = 'http://127.0.0.1:8976/callback';

beforeAll(async () => {
  stack = await startStack();
  clientId = (await registerClient(stack.authServerIssuer)).body.client_id;
});
afterAll(() => stack?.close());

const authorize = () =>
  authorizationUrl(stack.authServerIssuer, {
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'mcp:tools',
    resource: stack.mcpUrl,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });

/** Starts a sign-in and stops on the IdP's login form; returns it and the state sent to the IdP. */
async function atTheIdp(browser: ScriptedBrowser) {
  const login = await browser.open(authorize());
  expect(login.forms[0]?.fieldNames.has('password')).toBe(true);
  const toIdp = login.redirects.find((url) => url.startsWith(stack.idpIssuer));
  return { login, state: new URL(toIdp!).searchParams.get('state')! };
}

function expectPage(page: Page, status: number, text: RegExp) {
  expect(page.status).toBe(status);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(page.text()).toMatch(text);
  expect(page.text()).not.toMatch(/Something went wrong/);
}

describe('an IdP that cannot be reached', () => {
  it('when the sign-in starts: 503 with Retry-After and a page saying so; the next sign-in works once it is back', async () => {
    await stack.stopIdp();
    const page = await new ScriptedBrowser().open(authorize());
    expectPage(page, 503, /identity provider is unavailable right now/);
    expect(page.headers.get('retry-after')).toBe('10');

    await stack.restartIdp();
    const { login } = await atTheIdp(new ScriptedBrowser());
    expect(login.status).toBe(200);
  });

  it('in the middle of a sign-in: 503 saying it could not be reached (not that its answer was wrong)', async () => {
    const browser = new ScriptedBrowser();
    const { login } = await atTheIdp(browser);
    const back = await browser.submitForm(login, {
      fields: { login: DEMO_USERS.alice.login, password: DEMO_USERS.alice.password },
      stopAt: (target) => target.startsWith(`${stack.authServerIssuer}/upstream/callback`),
    });
    expect(back.stoppedAt).toBeDefined();
    await stack.stopIdp();
    try {
      const page = await browser.open(back.stoppedAt!);
      expectPage(page, 503, /could not be reached/);
    } finally {
      await stack.restartIdp();
    }
  });
});

describe('a malformed answer from the IdP', () => {
  const MALFORMED = /answer from the identity provider was malformed/;
  it.each([
    ['a repeated code', (state: string) => `code=one&code=two&state=${state}`, MALFORMED],
    ['neither a code nor an error', (state: string) => `state=${state}`, MALFORMED],
    ['an empty code', (state: string) => `code=&state=${state}`, MALFORMED],
    ['a repeated error', (state: string) => `error=access_denied&error=x&state=${state}`, MALFORMED],
    // Two states name no sign-in at all: the callback cannot tell which one it belongs to.
    ['a repeated state', (state: string) => `code=one&state=${state}&state=${state}`, /without a valid sign-in reference/],
  ])('%s: 400 and a page saying so, nothing sent to the IdP', async (_name, query, text) => {
    const browser = new ScriptedBrowser();
    const { state } = await atTheIdp(browser);
    const page = await browser.open(`${stack.authServerIssuer}/upstream/callback?${query(encodeURIComponent(state))}`);
    expectPage(page, 400, text);
  });

  it('a code the IdP does not know: 400, the IdP refused', async () => {
    const browser = new ScriptedBrowser();
    const { state } = await atTheIdp(browser);
    const page = await browser.open(
      `${stack.authServerIssuer}/upstream/callback?code=not-a-code&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(stack.idpIssuer)}`,
    );
    expectPage(page, 400, /refused to complete this sign-in/);
  });
});
