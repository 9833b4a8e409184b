import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken } from '../../test-support/oauth-flow.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { mcp } from './helpers.ts';

const INSPECTOR = 'http://localhost:6274';

describe('HTTP hygiene with the default allow-list (real stack)', () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    stack = await startStack({ resourceServerEnv: { BODY_LIMIT: '4096' } });
    token = (await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice })).tokens.access_token;
  });
  afterAll(() => stack?.close());

  it('refuses a foreign Origin with 403 before anything runs, preflight included', async () => {
    const response = await mcp(stack.mcpUrl, {
      token,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {} },
      headers: { origin: 'https://evil.example' },
    });
    expect(response.status).toBe(403);
    expect(response.body).toEqual({ error: 'forbidden_origin', error_description: 'Origin https://evil.example is not allowed to call this MCP server.' });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(stack.mcpUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();

    // Even without a token: a foreign page learns nothing, not even the challenge.
    const anonymous = await mcp(stack.mcpUrl, { method: 'tools/list', headers: { origin: 'null' } });
    expect(anonymous.status).toBe(403);
    expect(anonymous.headers.get('www-authenticate')).toBeNull();
  });

  it('serves MCP Inspector cross-origin: preflight allows the MCP headers, responses expose WWW-Authenticate and MCP-Protocol-Version', async () => {
    const preflight = await fetch(stack.mcpUrl, {
      method: 'OPTIONS',
      headers: {
        origin: INSPECTOR,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version, mcp-method, mcp-name',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(INSPECTOR);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type, mcp-protocol-version, mcp-method, mcp-name');

    const response = await mcp(stack.mcpUrl, { token, method: 'tools/call', params: { name: 'whoami', arguments: {} }, headers: { origin: INSPECTOR } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(INSPECTOR);
    expect(response.headers.get('access-control-expose-headers')).toBe('www-authenticate, mcp-session-id, mcp-protocol-version, dpop-nonce');
  });

  it('accepts requests without Origin (non-browser clients) and from its own origin', async () => {
    expect((await mcp(stack.mcpUrl, { token, method: 'tools/list' })).status).toBe(200);
    expect((await mcp(stack.mcpUrl, { token, method: 'tools/list', headers: { origin: new URL(stack.mcpUrl).origin } })).status).toBe(200);
  });

  it('serves the protected resource metadata to any origin', async () => {
    const response = await fetch(stack.resourceMetadataUrl, { headers: { origin: 'https://any.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('refuses a body over BODY_LIMIT with 413', async () => {
    const response = await mcp(stack.mcpUrl, { token, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'x'.repeat(5000) } } });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  });

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(new URL('/healthz', stack.mcpUrl));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(new URL('/readyz', stack.mcpUrl));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { authorizationServer: { ok: true, detail: 'authorization server signing keys cached' } } });
  });
});

describe('HTTP hygiene with a configured allow-list and Redis (real stack)', () => {
  let stack: Stack;
  let redis: TestRedis;
  let token: string;
  beforeAll(async () => {
    redis = await startRedis();
    stack = await startStack({ resourceServerEnv: { ALLOWED_ORIGINS: 'https://app.example.com', REDIS_URL: redis.url } });
    token = (await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice })).tokens.access_token;
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('allows exactly the configured origins', async () => {
    expect((await mcp(stack.mcpUrl, { token, method: 'tools/list', headers: { origin: 'https://app.example.com' } })).status).toBe(200);
    expect((await mcp(stack.mcpUrl, { token, method: 'tools/list', headers: { origin: INSPECTOR } })).status).toBe(403);
  });

  it('is ready while Redis answers and not ready when it is gone', async () => {
    const ready = await fetch(new URL('/readyz', stack.mcpUrl));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { authorizationServer: { ok: true, detail: 'authorization server signing keys cached' }, redis: { ok: true, detail: 'redis reachable' } },
    });
    await redis.stop();
    const notReady = await fetch(new URL('/readyz', stack.mcpUrl));
    expect(notReady.status).toBe(503);
    const body = (await notReady.json()) as { status: string; checks: { redis: { ok: boolean } } };
    expect(body.status).toBe('not ready');
    expect(body.checks.redis.ok).toBe(false);
    // Liveness is not readiness: the process is still up.
    expect((await fetch(new URL('/healthz', stack.mcpUrl))).status).toBe(200);
  });

  it('tells the user in the tool result that the notes storage is unavailable (Redis is down now)', async () => {
    const response = await mcp(stack.mcpUrl, { token, method: 'tools/call', params: { name: 'notes_list', arguments: {} } });
    expect(response.status).toBe(200);
    expect(response.body.result).toMatchObject({
      content: [{ type: 'text', text: 'The notes storage is unavailable right now; try again shortly.' }],
      isError: true,
    });
  });
});
