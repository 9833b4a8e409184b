/**
 * Refresh token rotation on real Redis: every use rotates; a rotated token used again
 * revokes the whole family, except within the reuse window; and two auth-server
 * instances sharing the Redis never both accept the same token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let redis: TestRedis;
let strict: Stack; // REFRESH_TOKEN_REUSE_WINDOW=0
let lenient: Stack; // REFRESH_TOKEN_REUSE_WINDOW=30

beforeAll(async () => {
  redis = await startRedis();
  strict = await startStack({ authServerEnv: { REDIS_URL: `${redis.url}/1`, REFRESH_TOKEN_REUSE_WINDOW: '0', RATE_LIMIT_REGISTRATION: '40' } });
  lenient = await startStack({ authServerEnv: { REDIS_URL: `${redis.url}/2`, REFRESH_TOKEN_REUSE_WINDOW: '30' } });
});
afterAll(async () => {
  await Promise.allSettled([strict?.close(), lenient?.close()]);
  await redis?.stop();
});

async function login(stack: Stack) {
  const { clientId, tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
  return { clientId, refreshToken: tokens.refresh_token! };
}

function refresh(issuer: string, clientId: string, refreshToken: string) {
  return tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
}

describe('refresh token rotation', () => {
  it('rotates on every use and gives a token for the same resource and scopes', async () => {
    const { clientId, refreshToken } = await login(strict);
    const first = await refresh(strict.authServerIssuer, clientId, refreshToken);
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).toEqual(expect.any(String));
    expect(first.body.refresh_token).not.toBe(refreshToken);
    expect(first.body.scope).toBe('mcp:tools mcp:resources mcp:prompts');
    const second = await refresh(strict.authServerIssuer, clientId, String(first.body.refresh_token));
    expect(second.status).toBe(200);
  });

  it('revokes the whole family when a rotated token is used again', async () => {
    const { clientId, refreshToken } = await login(strict);
    const rotated = await refresh(strict.authServerIssuer, clientId, refreshToken);
    expect(rotated.status).toBe(200);

    const replay = await refresh(strict.authServerIssuer, clientId, refreshToken);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    // The legitimate child is gone too: the thief and the victim are both logged out.
    const child = await refresh(strict.authServerIssuer, clientId, String(rotated.body.refresh_token));
    expect(child.status).toBe(400);
    expect(child.body.error).toBe('invalid_grant');
  });

  it('accepts a rotated token again within the reuse window, without revoking anything', async () => {
    const { clientId, refreshToken } = await login(lenient);
    const first = await refresh(lenient.authServerIssuer, clientId, refreshToken);
    const again = await refresh(lenient.authServerIssuer, clientId, refreshToken);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    // Both children work: a lost response or a second tab did not log the user out.
    expect((await refresh(lenient.authServerIssuer, clientId, String(first.body.refresh_token))).status).toBe(200);
    expect((await refresh(lenient.authServerIssuer, clientId, String(again.body.refresh_token))).status).toBe(200);
  });

  it('lets exactly one of two instances sharing Redis accept the same token at the same moment', async () => {
    const replica = await strict.startAuthServerReplica();
    for (let round = 0; round < 5; round++) {
      const { clientId, refreshToken } = await login(strict);
      const results = await Promise.all([refresh(strict.authServerIssuer, clientId, refreshToken), refresh(replica, clientId, refreshToken)]);
      const statuses = results.map((result) => result.status).sort();
      expect(statuses).toEqual([200, 400]);
      expect(results.find((result) => result.status === 400)!.body.error).toBe('invalid_grant');
    }
  });
});

describe('rate limits on Redis', () => {
  it('are shared by the instances: the replica counts the same budget', async () => {
    const replica = await strict.startAuthServerReplica();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 60 && !statuses.includes(429); attempt++) {
      const target = attempt % 2 ? replica : strict.authServerIssuer;
      const response = await fetch(`${target}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      statuses.push(response.status);
      if (response.status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Each instance alone would allow 40; together they refuse well before 80 requests.
    expect(statuses).toContain(429);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(41);
  });
});

describe('the same rules with the in-process store (pnpm start, no REDIS_URL)', () => {
  it('rotates, revokes the family on reuse, and honours the reuse window', async () => {
    const memoryStrict = await startStack({ authServerStorage: 'memory', authServerEnv: { REFRESH_TOKEN_REUSE_WINDOW: '0' } });
    const memoryLenient = await startStack({ authServerStorage: 'memory', authServerEnv: { REFRESH_TOKEN_REUSE_WINDOW: '30' } });
    try {
      const strictLogin = await login(memoryStrict);
      const rotated = await refresh(memoryStrict.authServerIssuer, strictLogin.clientId, strictLogin.refreshToken);
      expect(rotated.status).toBe(200);
      expect((await refresh(memoryStrict.authServerIssuer, strictLogin.clientId, strictLogin.refreshToken)).body.error).toBe('invalid_grant');
      expect((await refresh(memoryStrict.authServerIssuer, strictLogin.clientId, String(rotated.body.refresh_token))).body.error).toBe('invalid_grant');

      const lenientLogin = await login(memoryLenient);
      expect((await refresh(memoryLenient.authServerIssuer, lenientLogin.clientId, lenientLogin.refreshToken)).status).toBe(200);
      expect((await refresh(memoryLenient.authServerIssuer, lenientLogin.clientId, lenientLogin.refreshToken)).status).toBe(200);
    } finally {
      await Promise.allSettled([memoryStrict.close(), memoryLenient.close()]);
    }
  });
});
