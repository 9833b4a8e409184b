/**
 * Without a CLIENTS_FILE client allowed to exchange tokens, the upstream-token machinery
 * stays out of the way: nothing of the IdP's answer is stored, no issued-token records are
 * written, and a second client in the same browser session signs in without the IdP, as
 * single sign-on at the auth server always did.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationUrl, obtainAccessToken, pkce, registerClient } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

describe('no token exchange client configured', () => {
  it('keeps nothing of the IdP’s tokens and leaves single sign-on as it was', async () => {
    const browser = new ScriptedBrowser();
    await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, browser });
    const { body: second } = await registerClient(stack.authServerIssuer, { client_name: 'second client' });
    const redirectUri = second.redirect_uris[0]!;
    const stopAt = (url: string) => url.startsWith(redirectUri);
    const url = authorizationUrl(stack.authServerIssuer, {
      client_id: second.client_id,
      redirect_uri: redirectUri,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      scope: 'mcp:tools',
      resource: stack.mcpUrl,
    });
    // Every URL the browser is sent to, redirects included: the IdP would sign alice in silently.
    const consent = await browser.open(url, { stopAt });
    const done = await browser.submitForm(consent, { button: 'Allow', stopAt });
    expect(new URL(done.stoppedAt!).searchParams.get('code')).toBeTruthy();
    const visited = [url, ...consent.redirects, consent.url, ...done.redirects];
    expect(visited.filter((visit) => visit.startsWith(stack.idpIssuer))).toEqual([]);

    const redis = new Redis(stack.authServerRedisUrl!);
    try {
      expect(await redis.keys('oidc:Upstream*')).toEqual([]);
      expect(await redis.keys('oidc:IssuedAccessToken:*')).toEqual([]);
      expect((await redis.keys('oidc:Grant:*')).length).toBeGreaterThanOrEqual(1);
    } finally {
      redis.disconnect();
    }
  });
});
