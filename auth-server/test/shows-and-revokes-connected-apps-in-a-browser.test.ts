/**
 * The connected-apps page in a real browser (Debian's Chromium via playwright-core): alice
 * authorizes two applications, signs in to /account through the IdP, sees both (and not
 * bob's), revokes one after confirming; its refresh token then fails with invalid_grant and
 * the other application keeps working. Screenshots go to test-results/connected-apps/. The
 * page's refusals (no CSRF token, someone else's grant) are checked over plain HTTP.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../../test-support/chromium.ts';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

const SCREENSHOTS = resolve(import.meta.dirname, '..', '..', 'test-results', 'connected-apps');
let stack: Stack;
let context: BrowserContext;
let profileDir: string;
const apps: Record<'inspector' | 'cli' | 'bobs', { clientId: string; refreshToken: string }> = {} as never;

beforeAll(async () => {
  stack = await startStack({ authServerEnv: { RATE_LIMIT_REGISTRATION: '1000' } });
  for (const [key, name, user] of [
    ['inspector', 'Inspector (test)', DEMO_USERS.alice],
    ['cli', 'Terminal client (test)', DEMO_USERS.alice],
    ['bobs', 'Bob’s app', DEMO_USERS.bob],
  ] as const) {
    const { clientId, tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user,
      clientMetadata: { client_name: name },
    });
    apps[key] = { clientId, refreshToken: tokens.refresh_token! };
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  profileDir = await mkdtemp(join(tmpdir(), 'connected-apps-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 760 },
  });
});
afterAll(async () => {
  await context?.close();
  await rm(profileDir, { recursive: true, force: true });
  await stack?.close();
});

const refresh = async (app: { clientId: string; refreshToken: string }) => {
  const answer = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: app.refreshToken, client_id: app.clientId });
  if (answer.status === 200) app.refreshToken = String(answer.body.refresh_token);
  return answer;
};

describe('connected apps in a browser', () => {
  it('signs in through the IdP, shows both apps, and revokes one after confirmation', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${stack.authServerIssuer}/account`);
    // The federated login: dev-idp's form, as Dex shows it.
    await page.fill('input[name=login]', DEMO_USERS.alice.login);
    await page.fill('input[name=password]', DEMO_USERS.alice.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${stack.authServerIssuer}/account`);

    await expect.poll(() => page.locator('tbody tr').count()).toBe(2);
    const text = await page.locator('main').innerText();
    expect(text).toContain('Signed in as alice@example.com');
    expect(text).toContain('Inspector (test)');
    expect(text).toContain('Terminal client (test)');
    expect(text).toContain('unverified');
    expect(text).toContain(stack.mcpUrl);
    expect(text).toContain('mcp:tools');
    expect(text).not.toContain('Bob’s app');
    await page.screenshot({ path: join(SCREENSHOTS, '1-connected-apps.png'), fullPage: true });

    await page.getByRole('button', { name: 'Revoke access for Terminal client (test)' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toContain('Revoke access for Terminal client (test)?');
    await page.screenshot({ path: join(SCREENSHOTS, '2-confirm-revoke.png'), fullPage: true });
    await page.getByRole('button', { name: 'Revoke access' }).click();
    await page.waitForURL(`${stack.authServerIssuer}/account?done=revoked`);

    expect(await page.getByRole('status').innerText()).toBe('Access revoked.');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('main').innerText()).not.toContain('Terminal client (test)');
    await page.screenshot({ path: join(SCREENSHOTS, '3-after-revoke.png'), fullPage: true });

    const revoked = await refresh(apps.cli);
    expect(revoked.status).toBe(400);
    expect(revoked.body.error).toBe('invalid_grant');
    expect((await refresh(apps.inspector)).status).toBe(200);
    expect((await refresh(apps.bobs)).status).toBe(200);
  });
});

describe('refusals of the connected-apps page', () => {
  async function signedIn(user: { login: string; password: string }) {
    const browser = new ScriptedBrowser();
    const login = await browser.open(`${stack.authServerIssuer}/account`);
    const page = await browser.submitForm(login, { fields: { login: user.login, password: user.password } });
    expect(page.url).toBe(`${stack.authServerIssuer}/account`);
    return { browser, page };
  }

  it('is framed by nobody and cached by nobody', async () => {
    const { page } = await signedIn(DEMO_USERS.bob);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a revoke without the page’s CSRF token (403) and another user’s grant (404)', async () => {
    const { browser, page } = await signedIn(DEMO_USERS.bob);
    const action = page.forms.find((form) => form.action.includes('/revoke'))!.action;
    const forged = await browser.open(action, { method: 'POST', body: new URLSearchParams({ confirm: 'yes', csrf: 'not-the-token' }) });
    expect(forged.status).toBe(403);
    expect((await refresh(apps.bobs)).status).toBe(200);

    const csrf = page.forms[0]!.fields.find(([name]) => name === 'csrf')![1];
    const alicesGrant = action.replace(/apps\/[^/]+\/revoke/, 'apps/not-bobs-grant/revoke');
    const elsewhere = await browser.open(alicesGrant, { method: 'POST', body: new URLSearchParams({ confirm: 'yes', csrf }) });
    expect(elsewhere.status).toBe(404);
  });

  it('signs in again when not signed in, and refuses a revoke from a signed-out browser', async () => {
    const fresh = await new ScriptedBrowser().open(`${stack.authServerIssuer}/account/apps/x/revoke`, {
      method: 'POST',
      body: new URLSearchParams({ confirm: 'yes' }),
    });
    expect(fresh.status).toBe(401);
  });
});
