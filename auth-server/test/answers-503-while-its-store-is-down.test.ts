/**
 * While Redis is down, OAuth clients get what they can act on — 503 with
 * `{"error":"temporarily_unavailable"}` and Retry-After — browsers a readable 503 page, and
 * /readyz names Redis; the auth server also starts while Redis is down and recovers by
 * itself when it comes back. Real redis-server processes, stopped and started by the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startAuthServer, type RunningAuthServer } from '../src/server.ts';
import { authorizationUrl, pkce, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { freePort } from '../../test-support/ports.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { startStack, type Stack } from '../../test-support/stack.ts';
import { until } from '../../test-support/until.ts';

describe('Redis goes down under a running auth server', () => {
  let redis: TestRedis;
  let stack: Stack;
  let clientId: string;

  beforeAll(async () => {
    redis = await startRedis({ port: await freePort() });
    stack = await startStack({ authServerEnv: { REDIS_URL: redis.url } });
    clientId = (await registerClient(stack.authServerIssuer)).body.client_id;
    await redis.stop();
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('answers the token endpoint with 503 temporarily_unavailable and Retry-After', async () => {
    const response = await fetch(`${stack.authServerIssuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43), client_id: clientId }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('answers registration with 503 temporarily_unavailable and Retry-After', async () => {
    const response = await fetch(`${stack.authServerIssuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:8976/callback'] }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('shows a browser a readable 503 page', async () => {
    const url = authorizationUrl(stack.authServerIssuer, {
      client_id: clientId,
      redirect_uri: 'http://127.0.0.1:8976/callback',
      scope: 'mcp:tools',
      resource: stack.mcpUrl,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    const page = await new ScriptedBrowser().open(url, { stopAt: (target) => target.startsWith('http://127.0.0.1:8976') });
    expect(page.status).toBe(503);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.text()).toMatch(/unavailable/i);
    expect(page.text()).not.toMatch(/Something went wrong/);
  });

  it('is not ready, naming Redis', async () => {
    const response = await fetch(`${stack.authServerIssuer}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: 'not ready',
      storage: { kind: 'redis', ok: false, detail: `redis at ${new URL(redis.url).host} is not reachable` },
    });
  });

  it('recovers by itself when Redis is back', async () => {
    redis = await startRedis({ port: Number(new URL(redis.url).port) });
    await until('readiness after Redis came back', async () => (await fetch(`${stack.authServerIssuer}/readyz`)).status === 200);
    expect((await registerClient(stack.authServerIssuer)).status).toBe(201);
    const refused = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43), client_id: clientId });
    expect(refused.status).toBeLessThan(500); // the client is gone with the old Redis's data: an OAuth error, not an outage
  });
});

describe('the auth server starts while Redis is down', () => {
  let server: RunningAuthServer;
  let redis: TestRedis | undefined;
  let dir: string;
  let issuer: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'as-no-redis-'));
    const [port, redisPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      ISSUER: issuer,
      IDP_ISSUER: `http://127.0.0.1:${await freePort()}/dex`,
      IDP_CLIENT_SECRET: 'unused',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      KEYS_FILE: join(dir, 'keys.json'),
      LOG_LEVEL: 'silent',
    });
    server = await startAuthServer(config, { logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts, reports Redis as not reachable, and becomes ready when Redis appears', async () => {
    const before = await fetch(`${issuer}/readyz`);
    expect(before.status).toBe(503);
    const body = (await before.json()) as { storage: { kind: string; ok: boolean; detail?: string } };
    expect(body.storage).toMatchObject({ kind: 'redis', ok: false });
    expect(body.storage.detail).toMatch(/^redis at 127\.0\.0\.1:\d+ is not reachable$/);

    const port = Number(/:(\d+) is not reachable/.exec(body.storage.detail!)![1]);
    redis = await startRedis({ port });
    await until('registration once Redis is up', async () => (await registerClient(issuer)).status === 201);
  });
});
