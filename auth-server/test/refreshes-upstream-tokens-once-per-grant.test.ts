/**
 * When the upstream access token has expired, the token exchange refreshes it at the IdP
 * first — once per grant, however many exchanges arrive at once and on however many
 * auth-server instances (a lock in Redis; in process for a single instance, on SQLite or memory). dev-idp rotates
 * refresh tokens as Dex does, so a second refresh with the same one would fail. When the IdP
 * refuses the refresh, the upstream tokens are dropped, the answer says to sign in again, and
 * the next authorization goes through the IdP's login once more. The clock is moved, never
 * waited for.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DevIdpObservation } from '../../dev-idp/src/server.ts';
import { authorizeClient, obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { exchangeToken, idpUserinfo } from '../../test-support/token-exchange.ts';

const HOUR = 60 * 60 * 1000;

afterEach(() => {
  vi.useRealTimers();
});

describe.each([
  { storage: 'redis' as const, instances: 2 },
  { storage: 'sqlite' as const, instances: 1 },
  { storage: 'memory' as const, instances: 1 },
])('upstream refresh on $storage storage with $instances auth-server instance(s)', ({ storage, instances }) => {
  let stack: Stack;
  let issuers: string[];
  const observed: DevIdpObservation[] = [];
  const refreshesAtTheIdp = () => observed.filter((o) => o.kind === 'tokens_issued' && o.grantType === 'refresh_token').length;

  beforeAll(async () => {
    stack = await startStack({
      tokenExchange: true,
      authServerStorage: storage,
      // MCP tokens outlive the upstream ones here, so moving the clock expires only the latter.
      authServerEnv: { ACCESS_TOKEN_TTL: String(24 * 60 * 60) },
      idpObserver: (observation) => observed.push(observation),
    });
    issuers = [stack.authServerIssuer];
    if (instances === 2) issuers.push(await stack.startAuthServerReplica());
  });
  afterAll(() => stack?.close());

  const exchangeAt = (issuer: string, subjectToken: string) =>
    exchangeToken(issuer, stack.tokenExchangeClient!, { subject_token: subjectToken, audience: stack.idpIssuer });
  const moveClock = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + ms);
  };

  it('refreshes an expired upstream token exactly once for ten concurrent exchanges, then hands out the new one', async () => {
    const { tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.alice,
      scope: 'mcp:tools upstream:read',
    });
    const first = await exchangeAt(stack.authServerIssuer, tokens.access_token);
    expect(first.status).toBe(200);
    expect(refreshesAtTheIdp()).toBe(0);

    moveClock(HOUR + 60_000); // dev-idp's access tokens live an hour
    expect((await idpUserinfo(stack.idpIssuer, first.body.access_token!)).status).toBe(401);

    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => exchangeAt(issuers[i % issuers.length]!, tokens.access_token)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    const handedOut = new Set(answers.map((answer) => answer.body.access_token));
    expect(handedOut.size).toBe(1);
    expect(handedOut.has(first.body.access_token)).toBe(false);
    expect(refreshesAtTheIdp()).toBe(1);

    const [refreshed] = handedOut;
    const userinfo = await idpUserinfo(stack.idpIssuer, refreshed!);
    expect(userinfo.status).toBe(200);
    expect(userinfo.body.email).toBe('alice@example.com');

    // Fresh again: no further refresh.
    expect((await exchangeAt(issuers.at(-1)!, tokens.access_token)).body.access_token).toBe(refreshed);
    expect(refreshesAtTheIdp()).toBe(1);
  });

  it('drops the upstream tokens when the IdP refuses the refresh, says to sign in again, and the next sign-in goes through the IdP', async () => {
    const browser = new ScriptedBrowser();
    const { clientId, tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.bob,
      scope: 'mcp:tools upstream:read',
      browser,
    });
    expect((await exchangeAt(stack.authServerIssuer, tokens.access_token)).status).toBe(200);

    await stack.restartIdp(); // it forgets every refresh token it issued
    moveClock(HOUR + 60_000);
    const refused = await exchangeAt(stack.authServerIssuer, tokens.access_token);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(refused.body.error_description).toMatch(/sign in again.*refused/);
    if (stack.authServerRedisUrl) {
      const redis = new Redis(stack.authServerRedisUrl);
      expect((await redis.keys('oidc:UpstreamToken:*')).length).toBe(1); // alice's, from the test before; bob's is gone
      redis.disconnect();
    }
    const again = await exchangeAt(issuers.at(-1)!, tokens.access_token);
    expect(again.body).toEqual({ error: 'invalid_grant', error_description: 'the user must sign in again: no upstream tokens are kept for this grant' });

    // Same browser, same client: the auth server's session alone would skip the IdP; it does not.
    const redirectUri = 'http://127.0.0.1:8976/callback';
    const { callback, pagesSeen, verifier } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId,
      redirectUri,
      user: DEMO_USERS.bob,
      browser,
      params: { scope: 'mcp:tools upstream:read', resource: stack.mcpUrl },
    });
    expect(pagesSeen.some((page) => page.url.startsWith(stack.idpIssuer) && page.forms[0]?.fieldNames.has('password'))).toBe(true);
    const renewed = await tokenRequest(stack.authServerIssuer, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
      resource: stack.mcpUrl,
    });
    expect(renewed.status).toBe(200);
    const exchanged = await exchangeAt(stack.authServerIssuer, String(renewed.body.access_token));
    expect(exchanged.status).toBe(200);
    expect((await idpUserinfo(stack.idpIssuer, exchanged.body.access_token!)).body.email).toBe('bob@example.com');
  });
});
