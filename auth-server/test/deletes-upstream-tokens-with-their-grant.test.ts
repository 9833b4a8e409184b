/**
 * The upstream tokens belong to the MCP grant: they outlive an ordinary refresh of the MCP
 * tokens, and are deleted when the grant is revoked — by RFC 7009 revocation of its refresh
 * token, and by family revocation when a rotated refresh token is presented again. Checked in
 * the store itself (Redis) and through the token exchange.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { exchangeToken } from '../../test-support/token-exchange.ts';

let stack: Stack;
let redis: Redis;

beforeAll(async () => {
  stack = await startStack({ tokenExchange: true, authServerEnv: { REFRESH_TOKEN_REUSE_WINDOW: '0' } });
  redis = new Redis(stack.authServerRedisUrl!);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const exchange = (subjectToken: string) =>
  exchangeToken(stack.authServerIssuer, stack.tokenExchangeClient!, { subject_token: subjectToken, audience: stack.idpIssuer });
const upstreamRecords = () => redis.keys('oidc:UpstreamToken:*');
const login = () => obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, scope: 'mcp:tools upstream:read' });
const refresh = (clientId: string, refreshToken: string) =>
  tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

describe('upstream tokens live and die with their MCP grant', () => {
  it('survive a refresh of the MCP tokens: the new access token exchanges for the same upstream token', async () => {
    const { clientId, tokens } = await login();
    const before = await exchange(tokens.access_token);
    const refreshed = await refresh(clientId, tokens.refresh_token!);
    expect(refreshed.status).toBe(200);
    const after = await exchange(String(refreshed.body.access_token));
    expect(after.status).toBe(200);
    expect(after.body.access_token).toBe(before.body.access_token);
  });

  it('are deleted when the grant is revoked (RFC 7009, refresh token)', async () => {
    const { clientId, tokens } = await login();
    expect((await exchange(tokens.access_token)).status).toBe(200);
    const count = (await upstreamRecords()).length;

    const revoked = await fetch(`${stack.authServerIssuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token', client_id: clientId }),
    });
    expect(revoked.status).toBe(200);
    expect((await upstreamRecords()).length).toBe(count - 1);
    expect((await exchange(tokens.access_token)).body.error).toBe('invalid_grant');
  });

  it('are deleted with the family when a rotated refresh token is used again', async () => {
    const { clientId, tokens } = await login();
    expect((await exchange(tokens.access_token)).status).toBe(200);
    const count = (await upstreamRecords()).length;

    const rotated = await refresh(clientId, tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    const replayed = await refresh(clientId, tokens.refresh_token!);
    expect(replayed.body.error).toBe('invalid_grant');

    expect((await upstreamRecords()).length).toBe(count - 1);
    expect((await exchange(String(rotated.body.access_token))).body.error).toBe('invalid_grant');
  });
});
