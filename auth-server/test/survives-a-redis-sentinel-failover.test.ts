/**
 * Both servers find their Redis through a Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME):
 * a real primary, a replica and a Sentinel. The primary is killed mid-test; once the
 * Sentinel has promoted the replica, sign-ins and refreshes resume — a refresh token issued
 * before the crash still rotates (the replica had acknowledged it, as `WAIT` shows) — and
 * the notes written before are still there. Meanwhile the token endpoint answers 503, never 500.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';
import { createNotesStore } from '../../resource-server/src/server.ts';
import type { NotesStore } from '../../resource-server/src/mcp/notes/store.ts';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { startRedisSentinel, type TestRedisSentinel } from '../../test-support/redis-topologies.ts';
import { until } from '../../test-support/until.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let sentinel: TestRedisSentinel;
let stack: Stack;
let notes: NotesStore;

beforeAll(async () => {
  sentinel = await startRedisSentinel();
  const env = { STORE: 'redis', REDIS_SENTINELS: sentinel.env, REDIS_SENTINEL_NAME: sentinel.name };
  stack = await startStack({ authServerEnv: { ...env, REFRESH_TOKEN_REUSE_WINDOW: '0' }, resourceServerEnv: env });
  notes = createNotesStore(loadResourceConfig(env), pino({ level: 'silent' }));
}, 120_000);
afterAll(async () => {
  await notes?.close();
  await stack?.close();
  await sentinel?.stop();
});

const refresh = (clientId: string, token: string) =>
  tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });

it('resumes sign-ins and refreshes on the promoted replica without losing a refresh token', async () => {
  const before = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
  const rotated = await refresh(before.clientId, before.tokens.refresh_token!);
  expect(rotated.status).toBe(200);
  const kept = String(rotated.body.refresh_token);
  const probe = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob });
  const note = await notes.add('alice', 'written before the failover');
  await sentinel.replicasCaughtUp();

  const { from, to } = await sentinel.failOver();
  expect(to).not.toBe(from);

  // While the clients reconnect, a token request is refused as unavailable or served: never a 500.
  const during = await refresh(probe.clientId, probe.tokens.refresh_token!);
  expect([200, 503]).toContain(during.status);
  if (during.status === 503) expect(during.body.error).toBe('temporarily_unavailable');

  await until('the auth server is ready on the new primary', async () => (await fetch(`${stack.authServerIssuer}/readyz`)).status === 200);

  const after = await refresh(before.clientId, kept);
  expect(after.status).toBe(200);
  expect(after.body.refresh_token).toEqual(expect.any(String));
  // …and it was rotated on the new primary: presenting it again revokes the family, as before.
  expect(await refresh(before.clientId, kept)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

  const again = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
  expect(again.tokens.access_token).toEqual(expect.any(String));
  expect((await refresh(again.clientId, again.tokens.refresh_token!)).status).toBe(200);

  await until('the notes store is ready on the new primary', async () => (await notes.readiness()).ok);
  expect(await notes.list('alice')).toEqual([note]);
  expect((await notes.add('alice', 'written after')).text).toBe('written after');
});
