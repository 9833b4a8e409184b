import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevIdp } from '../src/server.ts';
import { atRedirectUri, relyingParty, startLogin, startTestIdp } from './helpers.ts';

describe('wrong credentials', () => {
  let idp: DevIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(() => idp?.close());

  it.each([
    ['a wrong password', 'alice@example.com', 'not-the-password-123'],
    ['an unknown email', 'mallory@example.com', 'mallorys-guess-42'],
  ])('refuses %s and shows the form again with the message', async (_, login, password) => {
    const config = await relyingParty(idp);
    const { browser, loginPage } = await startLogin(config);

    const refused = await browser.submitForm(loginPage, { fields: { login, password }, stopAt: atRedirectUri });
    expect(refused.stoppedAt).toBeUndefined(); // no authorization response
    expect(refused.status).toBe(401);
    expect(refused.text()).toContain('Invalid email or password.');
    expect(refused.html).not.toContain(password);
    const [form] = refused.forms;
    expect(form?.fieldNames).toEqual(new Set(['login', 'password']));
    expect(form?.fields).toContainEqual(['login', login]); // what was typed, kept
    expect(form?.fields).toContainEqual(['password', '']); // never echoed

    // The re-shown form still works with the right password.
    const callback = await browser.submitForm(refused, {
      fields: { login: 'alice@example.com', password: 'password' },
      stopAt: atRedirectUri,
    });
    expect(new URL(callback.stoppedAt ?? 'http://invalid/').searchParams.get('code')).toBeTruthy();
  });

  it('does not accept the email in another case with a wrong password, but does with the right one', async () => {
    const config = await relyingParty(idp);
    const { browser, loginPage } = await startLogin(config);
    const callback = await browser.submitForm(loginPage, {
      fields: { login: 'Alice@Example.com', password: 'password' },
      stopAt: atRedirectUri,
    });
    expect(callback.stoppedAt).toBeDefined();
  });
});
