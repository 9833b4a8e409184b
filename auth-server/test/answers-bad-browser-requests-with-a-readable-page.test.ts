/**
 * What a browser sends to the auth server's own pages can be broken or hostile; the answer
 * is the client's error (4xx) on a readable page in the common layout — never a 500, never
 * a stack trace — and the sign-in it belonged to is not half-finished.
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

/** Logs alice in at the IdP and stops on the consent page. */
async function consentPage(browser: ScriptedBrowser): Promise<Page> {
  const url = authorizationUrl(stack.authServerIssuer, {
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'mcp:tools',
    resource: stack.mcpUrl,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });
  const login = await browser.open(url);
  const page = await browser.submitForm(login, { fields: { login: DEMO_USERS.alice.login, password: DEMO_USERS.alice.password } });
  expect(page.text()).toContain('to access your MCP server');
  return page;
}

function expectReadableClientError(page: Page, status: number) {
  expect(page.status).toBe(status);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(page.text()).toMatch(/start again/i);
  expect(page.html).not.toMatch(/at .*\.(ts|js):\d+|Error:/);
}

describe('the consent form', () => {
  it('answers a 10 MB body with 413 and a page, and the consent can still be given', async () => {
    const browser = new ScriptedBrowser();
    const page = await consentPage(browser);
    const action = page.forms[0]!.action;
    const huge = await browser.open(action, { method: 'POST', body: new URLSearchParams({ decision: 'allow', padding: 'x'.repeat(10 * 1024 * 1024) }) });
    expectReadableClientError(huge, 413);
    const allowed = await browser.submitForm(page, { button: 'Allow', stopAt: (target) => target.startsWith(redirectUri) });
    expect(new URL(allowed.stoppedAt!).searchParams.get('code')).toBeTruthy();
  });
});
