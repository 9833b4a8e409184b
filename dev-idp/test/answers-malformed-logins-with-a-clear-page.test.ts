import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser, type Page } from '../../test-support/scripted-browser.ts';
import type { DevIdp } from '../src/server.ts';
import { relyingParty, startLogin, startTestIdp } from './helpers.ts';

function expectNoStackTrace(page: Page) {
  expect(page.html).not.toMatch(/\s+at [^\n]*:\d+:\d+|node_modules|\w+Error:/);
}

describe('malformed login submissions', () => {
  let idp: DevIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(() => idp?.close());

  async function postToLoginForm(body: string, contentType = 'application/x-www-form-urlencoded') {
    const { browser, loginPage } = await startLogin(await relyingParty(idp));
    const action = loginPage.forms[0]?.action as string;
    return browser.open(action, { method: 'POST', body, headers: { 'content-type': contentType } });
  }

  it.each([
    ['no password', 'login=alice%40example.com', /without a password/],
    ['no login', 'password=password', /without a login/],
    ['a login given twice', 'login=a&login=b&password=password', /without a login/],
    ['a JSON body', '{"login":"alice@example.com","password":"password"}', /without a login/],
  ])('answers %s with a 400 page', async (_, body, message) => {
    const page = await postToLoginForm(body, body.startsWith('{') ? 'application/json' : undefined);
    expect(page.status).toBe(400);
    expect(page.text()).toMatch(message);
    expect(page.text()).toContain('Development IdP — not for production');
    expectNoStackTrace(page);
  });

  it('answers an oversized body with a 413 page', async () => {
    const page = await postToLoginForm(`login=alice%40example.com&password=${'x'.repeat(64 * 1024)}`);
    expect(page.status).toBe(413);
    expect(page.text()).toContain('The submitted form is too large.');
    expectNoStackTrace(page);
  });

  it('answers a login form posted without its interaction cookie with a page saying to start again', async () => {
    const { loginPage } = await startLogin(await relyingParty(idp));
    const action = loginPage.forms[0]?.action as string;
    const stranger = new ScriptedBrowser(); // no cookies
    const page = await stranger.open(action, {
      method: 'POST',
      body: new URLSearchParams({ login: 'alice@example.com', password: 'password' }),
    });
    expect(page.status).toBe(400);
    expect(page.text()).toContain('Start again from the application');
    expectNoStackTrace(page);
  });
});
