/**
 * A revoked grant's JWT access tokens are refused by the resource server within about a
 * second — not when they expire — when it shares the store with the auth server (Redis, or
 * the auth server's SQLite file on one machine). Revocation by the client (RFC 7009) and by
 * a replayed refresh token (family revocation) both reach it; other grants are untouched.
 * Real auth server, real resource server, real store.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { invalidTokenChallenge, mcp } from './helpers.ts';

describe.each(['redis', 'sqlite'] as const)('sharing the store on %s', (storage) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ authServerStorage: storage, authServerEnv: { REFRESH_TOKEN_REUSE_WINDOW: '0', RATE_LIMIT_REGISTRATION: '1000' } });
  });
  afterAll(() => stack?.close());

  const login = (user: { login: string; password: string } = DEMO_USERS.alice) =>
    obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user });
  const status = async (token: string) => (await mcp(stack.mcpUrl, { token, method: 'tools/list' })).status;

  /** Bounded wait for the resource server's next read of revoked grants (once a second). */
  async function untilRefused(token: string) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const response = await mcp(stack.mcpUrl, { token, method: 'tools/list' });
      if (response.status === 401) return response;
      await sleep(100);
    }
    throw new Error('the token of the revoked grant was still accepted after 5 s');
  }

  it('refuses the access token once the client revokes its refresh token (RFC 7009)', async () => {
    const revokedLogin = await login();
    const other = await login(DEMO_USERS.bob);
    expect(await status(revokedLogin.tokens.access_token)).toBe(200);

    const revocation = await fetch(`${stack.authServerIssuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: revokedLogin.tokens.refresh_token!, token_type_hint: 'refresh_token', client_id: revokedLogin.clientId }),
    });
    expect(revocation.status).toBe(200);

    const refused = await untilRefused(revokedLogin.tokens.access_token);
    expect(refused.headers.get('www-authenticate')).toBe(invalidTokenChallenge(stack.resourceMetadataUrl, 'The access token was revoked.'));
    expect(await status(other.tokens.access_token)).toBe(200);
  });

  it('refuses the access tokens of a family revoked for a replayed refresh token', async () => {
    const { clientId, tokens } = await login();
    const rotated = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(rotated.status).toBe(200);
    const current = String(rotated.body.access_token);
    expect(await status(current)).toBe(200);

    const replay = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(replay.body.error).toBe('invalid_grant');
    await untilRefused(current);
    await untilRefused(tokens.access_token);
  });
});
