import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newSigningKey, StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { invalidTokenChallenge, mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';

// The real AS cannot sign tokens with forged kids, rotate on demand or go down alone, so
// a stand-in AS (metadata + JWKS, counting JWKS requests) plays it; the RS is the real one.
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
  vi.useRealTimers();
});

// The cooldown, the JWKS age and token expiry are all read from Date: the test moves that
// clock itself (nothing else is faked), so machine load cannot make a period pass early or late.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

/** Waits (bounded, in real time) for a background fetch to be counted. */
async function untilJwksRequests(as: StandInAuthorizationServer, count: number) {
  for (let attempt = 0; attempt < 100 && as.jwksRequests < count; attempt++) await sleep(20);
}

async function setUp(env: Record<string, string> = {}) {
  const as = await StandInAuthorizationServer.start();
  // Without the verified-token cache unless a test asks for it: these tests are about the keys.
  const rs = await startResourceServerFor(as, { TOKEN_CACHE_SECONDS: '0', ...env });
  cleanup.push(
    () => as.down(),
    () => rs.close(),
  );
  // Startup warms the cache: wait until the first fetch has happened.
  expect((await fetch(new URL('/readyz', rs.mcpUrl))).status).toBe(200);
  return { as, rs };
}

const status = async (rs: TestResourceServer, token: string) => (await mcp(rs.mcpUrl, { token, method: 'tools/list' })).status;

async function flood(as: StandInAuthorizationServer, rs: TestResourceServer, count: number) {
  const forged = await Promise.all(Array.from({ length: count }, async () => as.sign(rs.mcpUrl, {}, { key: await newSigningKey() })));
  return Promise.all(forged.map((token) => mcp(rs.mcpUrl, { token, method: 'tools/list' })));
}

describe('JWKS caching (stand-in AS, since the real AS cannot produce forged kids)', () => {
  it('refetches the JWKS at most once per cooldown under a flood of unknown kids', async () => {
    const { as, rs } = await setUp({ JWKS_COOLDOWN_SECONDS: '2' });
    expect(as.jwksRequests).toBe(1);
    advance(2100); // the startup fetch's cooldown has passed: one refetch is allowed

    const first = await flood(as, rs, 50);
    for (const response of first) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        invalidTokenChallenge(rs.resourceMetadataUrl, 'The access token is signed with a key this server does not know.'),
      );
    }
    expect(as.jwksRequests).toBe(2);

    const second = await flood(as, rs, 50); // still within the cooldown: no fetch at all
    expect(second.every((response) => response.status === 401)).toBe(true);
    expect(as.jwksRequests).toBe(2);

    advance(2100);
    await flood(as, rs, 50); // next cooldown period: exactly one more
    expect(as.jwksRequests).toBe(3);
  });

  it('does not hammer a failing AS either: a failed fetch starts the cooldown too', async () => {
    const { as, rs } = await setUp({ JWKS_COOLDOWN_SECONDS: '2' });
    as.failing = true; // the JWKS endpoint answers 503
    advance(2100);
    const responses = await flood(as, rs, 30);
    expect(responses.every((response) => response.status === 401)).toBe(true);
    expect(as.jwksRequests).toBe(2); // the startup fetch and one failed attempt
    await flood(as, rs, 30);
    expect(as.jwksRequests).toBe(2);
    as.failing = false;
    advance(2100);
    await flood(as, rs, 30);
    expect(as.jwksRequests).toBe(3);
  });

  it('picks up a rotated signing key without a restart', async () => {
    const { as, rs } = await setUp({ JWKS_COOLDOWN_SECONDS: '1' });
    expect(await status(rs, await as.sign(rs.mcpUrl))).toBe(200);
    const oldKey = as.currentKey;
    await as.rotate();
    advance(1100);
    expect(await status(rs, await as.sign(rs.mcpUrl))).toBe(200);
    expect(as.jwksRequests).toBe(2);
    // The retired key left the JWKS, and so left the resource server's cache.
    expect(await status(rs, await as.sign(rs.mcpUrl, {}, { key: oldKey }))).toBe(401);
  });

  it('keeps serving valid tokens while the AS is down, even after the cached JWKS went stale', async () => {
    const { as, rs } = await setUp({ JWKS_MAX_AGE_SECONDS: '1', JWKS_COOLDOWN_SECONDS: '1' });
    const token = await as.sign(rs.mcpUrl);
    expect(await status(rs, token)).toBe(200);
    await as.down();
    expect(await status(rs, token)).toBe(200);
    advance(1200); // stale now; the background refresh fails, the cached keys stay
    expect(await status(rs, token)).toBe(200);
    expect(await status(rs, token)).toBe(200);
    expect((await fetch(new URL('/readyz', rs.mcpUrl))).status).toBe(200);
    // When the AS is back, the stale set is refreshed in the background.
    await as.up();
    advance(1100);
    const before = as.jwksRequests;
    expect(await status(rs, token)).toBe(200);
    await untilJwksRequests(as, before + 1);
    expect(as.jwksRequests).toBe(before + 1);
  });

  it('remembers a verified token, but never past its expiry nor past the withdrawal of its key', async () => {
    const { as, rs } = await setUp({ TOKEN_CACHE_SECONDS: '60', JWKS_COOLDOWN_SECONDS: '1', CLOCK_TOLERANCE: '0' });
    const shortLived = await as.sign(rs.mcpUrl, { exp: Math.floor(Date.now() / 1000) + 2 });
    const longLived = await as.sign(rs.mcpUrl);
    expect(await status(rs, shortLived)).toBe(200);
    expect(await status(rs, longLived)).toBe(200);
    expect(await status(rs, longLived)).toBe(200); // from the cache

    advance(2100);
    const expired = await mcp(rs.mcpUrl, { token: shortLived, method: 'tools/list' });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe(invalidTokenChallenge(rs.resourceMetadataUrl, 'The access token expired.'));

    // The AS withdraws the key: once the resource server sees the new set (here on a new kid),
    // the cached token signed by the old key is refused.
    await as.rotate();
    expect(await status(rs, await as.sign(rs.mcpUrl))).toBe(200);
    expect(await status(rs, longLived)).toBe(401);
  });

  it('stops trusting a withdrawn key once the cached set is past its max age, whatever the cooldown and the token cache', async () => {
    const { as, rs } = await setUp({ JWKS_MAX_AGE_SECONDS: '10', JWKS_COOLDOWN_SECONDS: '60', TOKEN_CACHE_SECONDS: '60' });
    const signedByOldKey = await as.sign(rs.mcpUrl);
    expect(await status(rs, signedByOldKey)).toBe(200); // verified and remembered
    await as.rotate(); // the AS withdraws the key from its JWKS
    advance(10_500); // the cached set is past its max age; the cooldown (60 s) has not passed
    expect(await status(rs, signedByOldKey)).toBe(401);
    expect(as.jwksRequests).toBe(2); // the set was refreshed before it was trusted again
    expect(await status(rs, await as.sign(rs.mcpUrl))).toBe(200);
  });

  it('refreshes a set nearing its max age behind the request, which is served from the cached keys', async () => {
    const { as, rs } = await setUp({ JWKS_MAX_AGE_SECONDS: '10', JWKS_COOLDOWN_SECONDS: '60' });
    const token = await as.sign(rs.mcpUrl);
    advance(8500);
    expect(await status(rs, token)).toBe(200);
    await untilJwksRequests(as, 2);
    expect(as.jwksRequests).toBe(2);
    expect(await status(rs, token)).toBe(200);
    expect(as.jwksRequests).toBe(2); // fresh again: no further fetch
  });

  it('answers 503 (not 401) when it has never been able to fetch the keys', async () => {
    const as = await StandInAuthorizationServer.start();
    const token = await as.sign('http://placeholder/mcp');
    await as.down();
    const rs = await startResourceServerFor(as);
    cleanup.push(() => rs.close());
    const response = await mcp(rs.mcpUrl, { token, method: 'tools/list' });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.body).toEqual({ error: 'temporarily_unavailable', error_description: 'Tokens cannot be verified right now; try again shortly.' });
    const ready = await fetch(new URL('/readyz', rs.mcpUrl));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'not ready',
      checks: { authorizationServer: { ok: false, detail: 'authorization server signing keys unavailable' } },
    });
  });
});
