import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevIdp } from '../src/server.ts';
import { relyingParty, startLogin, startTestIdp } from './helpers.ts';

describe('login page', () => {
  let idp: DevIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(() => idp?.close());

  it('says it is a development IdP, names the client, and lists no demo users', async () => {
    const { loginPage } = await startLogin(await relyingParty(idp));
    expect(loginPage.status).toBe(200);
    expect(loginPage.headers.get('content-type')).toMatch(/^text\/html/);
    const text = loginPage.text();
    expect(text).toContain('Development IdP — not for production');
    expect(text).toContain('MCP Authorization Server');
    expect(text).not.toMatch(/alice|bob|@example\.com/);
    expect(loginPage.forms).toHaveLength(1);
    expect(loginPage.forms[0]).toMatchObject({ method: 'POST', fieldNames: new Set(['login', 'password']) });
    expect(loginPage.$('input[name=password]').attr('type')).toBe('password');
  });

  it('is not cacheable and cannot be framed', async () => {
    const { loginPage } = await startLogin(await relyingParty(idp));
    expect(loginPage.headers.get('cache-control')).toBe('no-store');
    expect(loginPage.headers.get('x-frame-options')).toBe('DENY');
    expect(loginPage.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});
