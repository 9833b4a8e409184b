/**
 * With REDIS_URL, a restart loses nothing a user would notice: the registered client, the
 * refresh token, the consent and the browser session survive, and the signing key is the
 * same (it was persisted on first start, not regenerated).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeClient, obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let redis: TestRedis;
let stack: Stack;

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({ authServerEnv: { REDIS_URL: redis.url } });
});
afterAll(async () => {
  await stack?.close();
  await redis?.stop();
});

const WEB_REDIRECT = 'https://app.example.com/callback';

async function jwksKids(issuer: string) {
  const { keys } = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  return keys.map((key) => key.kid);
}

describe('restart with Redis', () => {
  it('keeps the client, the refresh token, the consent, the session and the signing key', async () => {
    const browser = new ScriptedBrowser();
    // A web client on an https redirect URI: clients returning to a loopback redirect URI
    // are asked for consent on every authorization (RFC 8252 §8.6).
    const { clientId, tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.alice,
      browser,
      clientMetadata: { application_type: 'web', redirect_uris: [WEB_REDIRECT] },
    });
    const kidsBefore = await jwksKids(stack.authServerIssuer);

    const client = new Redis(redis.url);
    try {
      expect(await client.exists(`oidc:Client:${clientId}`)).toBe(1);
    } finally {
      client.disconnect();
    }

    await stack.restartAuthServer();

    expect(await jwksKids(stack.authServerIssuer)).toEqual(kidsBefore);

    const refreshed = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(refreshed.status).toBe(200);

    // Same browser, same client, same scopes: no IdP login and no consent page this time.
    const { callback, pagesSeen } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId,
      redirectUri: WEB_REDIRECT,
      user: DEMO_USERS.alice,
      browser,
      params: { scope: 'mcp:tools mcp:resources mcp:prompts', resource: stack.mcpUrl },
    });
    expect(pagesSeen.map((page) => `${page.url} ${page.text().slice(0, 200)}`)).toEqual([]);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it('asks a native client for consent again, listing every scope it asks for', async () => {
    const browser = new ScriptedBrowser();
    const { clientId } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob, browser });
    const { pagesSeen } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId,
      redirectUri: 'http://127.0.0.1:8976/callback',
      user: DEMO_USERS.bob,
      browser,
      params: { scope: 'mcp:tools mcp:resources', resource: stack.mcpUrl },
    });
    expect(pagesSeen).toHaveLength(1);
    expect(pagesSeen[0]!.text()).toContain('mcp:tools');
    expect(pagesSeen[0]!.text()).toContain('mcp:resources');
    expect(pagesSeen[0]!.text()).toContain(stack.mcpUrl);
  });
});
