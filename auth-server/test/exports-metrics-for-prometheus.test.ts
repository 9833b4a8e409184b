/**
 * METRICS=true: each server serves Prometheus metrics on a listener of its own. After a
 * sign-in, a refresh and its replay, a Deny, a refused registration burst, a refused Client
 * ID Metadata Document, MCP calls with a valid, a missing, a malformed and an insufficient
 * token, both scrapes show the counters moved — and carry no token, user or client id. The
 * Grafana dashboard only charts metrics the servers export.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig as loadAuthConfig } from '../src/config.ts';
import { loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';
import { mcp } from '../../resource-server/test/helpers.ts';
import { authorizeClient, obtainAccessToken, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, freePort, startStack, type Stack } from '../../test-support/stack.ts';

type Samples = Map<string, number>;

/** `name{label="value",…} number` lines, keyed by the name and its labels as written. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

async function scrape(url: string): Promise<{ text: string; samples: Samples; contentType: string | null }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parse(text), contentType: response.headers.get('content-type') };
}

describe('the metrics listeners', () => {
  let stack: Stack;
  let authMetrics: string;
  let resourceMetrics: string;

  beforeAll(async () => {
    const [authPort, resourcePort] = [await freePort(), await freePort()];
    authMetrics = `http://127.0.0.1:${authPort}/metrics`;
    resourceMetrics = `http://127.0.0.1:${resourcePort}/metrics`;
    stack = await startStack({
      authServerStorage: 'memory',
      authServerEnv: { METRICS: 'true', METRICS_PORT: String(authPort), REFRESH_TOKEN_REUSE_WINDOW: '0', RATE_LIMIT_REGISTRATION: '3', TRUST_PROXY: 'true' },
      resourceServerEnv: { METRICS: 'true', METRICS_PORT: String(resourcePort) },
    });
  });
  afterAll(() => stack?.close());

  it('moves the counters of what happened, on both servers, without naming anyone', async () => {
    const asBefore = (await scrape(authMetrics)).samples;
    const rsBefore = (await scrape(resourceMetrics)).samples;

    // A sign-in with consent, a refresh, and the replay of the rotated refresh token.
    const { clientId, tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
    const refreshed = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(refreshed.status).toBe(200);
    const replay = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(replay.body.error).toBe('invalid_grant');

    // bob signs in and presses Deny.
    const { body: client } = await registerClient(stack.authServerIssuer);
    const denied = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId: client.client_id,
      redirectUri: client.redirect_uris[0]!,
      user: DEMO_USERS.bob,
      decision: 'Deny',
      params: { scope: 'mcp:tools', resource: stack.mcpUrl },
    });
    expect(denied.callback.searchParams.get('error')).toBe('access_denied');

    // Registrations from one address past the limit (X-Forwarded-For: this test's own counter).
    const register = () =>
      fetch(`${stack.authServerIssuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.4' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native' }),
      });
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt++) statuses.push((await register()).status);
    expect(statuses).toEqual([201, 201, 201, 429]);

    // A Client ID Metadata Document URL without a path is never fetched.
    const cimd = await fetch(
      `${stack.authServerIssuer}/auth?${new URLSearchParams({ client_id: 'https://client.example', response_type: 'code', redirect_uri: 'https://client.example/cb', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', scope: 'mcp:tools' })}`,
      { redirect: 'manual' },
    );
    expect(cimd.status).toBeGreaterThanOrEqual(400);

    // MCP: twice with the token (the second from the verified-token cache), without one, with garbage, and a write without notes:write.
    const accessToken = String(refreshed.body.access_token);
    expect((await mcp(stack.mcpUrl, { token: accessToken, method: 'tools/list' })).status).toBe(200);
    expect((await mcp(stack.mcpUrl, { token: accessToken, method: 'tools/list' })).status).toBe(200);
    expect((await mcp(stack.mcpUrl, { method: 'tools/list' })).status).toBe(401);
    expect((await mcp(stack.mcpUrl, { token: 'not-a-jwt', method: 'tools/list' })).status).toBe(401);
    expect((await mcp(stack.mcpUrl, { token: accessToken, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'x' } } })).status).toBe(403);

    const as = await scrape(authMetrics);
    const rs = await scrape(resourceMetrics);
    expect(as.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const moved = (after: Samples, before: Samples, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    const asMoved = (key: string) => moved(as.samples, asBefore, key);
    const rsMoved = (key: string) => moved(rs.samples, rsBefore, key);

    expect(asMoved('auth_server_authorizations_started_total')).toBe(2);
    expect(asMoved('auth_server_authorizations_completed_total')).toBe(1);
    expect(asMoved('auth_server_consent_denied_total')).toBe(1);
    expect(asMoved('auth_server_idp_logins_total{outcome="success"}')).toBe(2);
    expect(asMoved(`auth_server_tokens_issued_total{grant_type="authorization_code",resource="${stack.mcpUrl}"}`)).toBe(1);
    expect(asMoved(`auth_server_tokens_issued_total{grant_type="refresh_token",resource="${stack.mcpUrl}"}`)).toBe(1);
    expect(asMoved('auth_server_refresh_token_reuse_total')).toBe(1);
    expect(asMoved('auth_server_client_registrations_total{kind="dcr",outcome="created"}')).toBe(5);
    expect(asMoved('auth_server_rate_limited_requests_total{endpoint="registration"}')).toBe(1);
    expect(asMoved('auth_server_cimd_fetch_failures_total{reason="not_allowed"}')).toBe(1);
    expect(asMoved('auth_server_client_registrations_total{kind="cimd",outcome="refused"}')).toBe(1);
    expect(asMoved('auth_server_store_operation_seconds_count{backend="memory",operation="consume",outcome="ok"}')).toBeGreaterThanOrEqual(2);
    expect(as.samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    expect(rsMoved('resource_server_mcp_requests_total{method="tools/list",status="200"}')).toBe(2);
    expect(rsMoved('resource_server_mcp_requests_total{method="tools/list",status="401"}')).toBe(2);
    expect(rsMoved('resource_server_mcp_requests_total{method="tools/call",status="403"}')).toBe(1);
    expect(rsMoved('resource_server_token_rejections_total{reason="missing"}')).toBe(1);
    expect(rsMoved('resource_server_token_rejections_total{reason="malformed"}')).toBe(1);
    expect(rsMoved('resource_server_step_up_challenges_total{scope="notes:write"}')).toBe(1);
    expect(rsMoved('resource_server_verified_token_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(rsMoved('resource_server_token_verification_seconds_count{outcome="valid"}')).toBe(3);
    expect(rsMoved('resource_server_token_verification_seconds_count{outcome="invalid"}')).toBe(1);
    expect(rs.samples.get('resource_server_jwks_fetches_total{reason="initial",outcome="ok"}')).toBeGreaterThanOrEqual(1);

    // No token, client id, user or email in any label (or anywhere else).
    for (const text of [as.text, rs.text]) {
      for (const secret of [tokens.access_token, tokens.refresh_token!, accessToken, clientId, client.client_id, 'alice', 'bob', '@example.com'])
        expect(text).not.toContain(secret);
    }
  });

  it('serves the metrics on their own listeners only: the public ports answer 404', async () => {
    expect((await fetch(`${stack.authServerIssuer}/metrics`)).status).toBe(404);
    expect((await fetch(new URL('/metrics', stack.mcpUrl))).status).toBe(404);
    expect((await fetch(authMetrics.replace('/metrics', '/'))).status).toBe(404);
  });

  it('ships a Grafana dashboard that charts only metrics the servers export', async () => {
    const exported = new Set<string>();
    for (const url of [authMetrics, resourceMetrics]) {
      for (const line of (await fetch(url).then((response) => response.text())).split('\n')) {
        const type = /^# TYPE (\S+) (\S+)/.exec(line);
        if (!type) continue;
        exported.add(type[1]!);
        if (type[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${type[1]}${suffix}`);
      }
    }
    const dashboard = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'deploy', 'grafana', 'dashboards', 'mcp-oauth.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const expressions = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
    expect(expressions.length).toBeGreaterThanOrEqual(12);
    const referenced = new Set(expressions.flatMap((expr) => expr.match(/\b(auth_server|resource_server)_[a-z_]+\b/g) ?? []));
    expect([...referenced].filter((name) => !exported.has(name))).toEqual([]);
    // Every counter of both servers has a panel.
    const counters = [...exported].filter((name) => /^(auth_server|resource_server)_.*_total$/.test(name));
    expect(counters.filter((name) => !referenced.has(name))).toEqual([]);
  });
});

describe('METRICS', () => {
  it('is off unless turned on, then on loopback at 9464 (auth server) and 9465 (resource server) unless told otherwise', () => {
    expect(loadAuthConfig({ IDP_CLIENT_SECRET: 'x' }).metrics).toBeUndefined();
    expect(loadResourceConfig({}).metrics).toBeUndefined();
    expect(loadAuthConfig({ IDP_CLIENT_SECRET: 'x', METRICS: 'true' }).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadResourceConfig({ METRICS: 'true' }).metrics).toEqual({ host: '127.0.0.1', port: 9465 });
    expect(loadResourceConfig({ METRICS: 'true', METRICS_HOST: '0.0.0.0', METRICS_PORT: '9100' }).metrics).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(loadAuthConfig({ IDP_CLIENT_SECRET: 'x', METRICS: '', METRICS_PORT: '' }).metrics).toBeUndefined();
    expect(() => loadAuthConfig({ IDP_CLIENT_SECRET: 'x', METRICS: 'yes please' })).toThrow('METRICS: must be true or false');
  });
});
