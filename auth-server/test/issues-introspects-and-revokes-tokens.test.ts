/**
 * RFC 7009 revocation, RFC 7662 introspection (for pre-registered resource servers only)
 * and client_credentials for pre-registered machine clients, audience-bound like the rest.
 */
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

const RS_SECRET = 'rs-introspection-secret-0123456789';
const MACHINE_SECRET = 'machine-client-secret-0123456789';
let stack: Stack;
let opaque: Stack; // ACCESS_TOKEN_FORMAT=opaque: resource servers introspect access tokens

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clients-'));
  const clientsFile = join(dir, 'clients.yaml');
  await writeFile(
    clientsFile,
    [
      'clients:',
      '  - client_id: resource-server',
      '    client_secret_env: TEST_RS_SECRET',
      '    grant_types: [client_credentials]',
      '    introspection: true',
      '  - client_id: nightly-report',
      `    client_secret: ${MACHINE_SECRET}`,
      '    grant_types: [client_credentials]',
    ].join('\n'),
  );
  stack = await startStack({ authServerEnv: { CLIENTS_FILE: clientsFile, TEST_RS_SECRET: RS_SECRET } });
  opaque = await startStack({ authServerEnv: { CLIENTS_FILE: clientsFile, TEST_RS_SECRET: RS_SECRET, ACCESS_TOKEN_FORMAT: 'opaque', RATE_LIMIT_TOKEN: '5' } });
});
afterAll(async () => {
  await Promise.allSettled([stack?.close(), opaque?.close()]);
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function post(path: string, form: Record<string, string>, authorization?: string, issuer = stack.authServerIssuer) {
  const response = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe('introspection and revocation', () => {
  it('shows a refresh token active to the resource server, then inactive once the client revokes it', async () => {
    const { clientId, tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob });
    const introspect = () => post('/token/introspection', { token: tokens.refresh_token! }, basic('resource-server', RS_SECRET));

    const active = await introspect();
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({
      active: true,
      client_id: clientId,
      iss: stack.authServerIssuer,
      scope: 'mcp:tools mcp:resources mcp:prompts',
      sub: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    });

    const revoked = await post('/token/revocation', { token: tokens.refresh_token!, token_type_hint: 'refresh_token', client_id: clientId });
    expect(revoked.status).toBe(200);

    expect((await introspect()).body).toEqual({ active: false });
    const refresh = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('does not let another client revoke a token', async () => {
    const { tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob });
    const { body: intruder } = await registerClient(stack.authServerIssuer);
    const attempt = await post('/token/revocation', { token: tokens.refresh_token!, client_id: intruder.client_id });
    // RFC 7009 §2.2: the answer is the same as for any token; nothing is revoked.
    expect(attempt.status).toBe(200);
    const stillActive = await post('/token/introspection', { token: tokens.refresh_token! }, basic('resource-server', RS_SECRET));
    expect(stillActive.body.active).toBe(true);
  });

  it('tells any other client nothing about a token', async () => {
    const { tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
    const { body: confidential } = await registerClient(stack.authServerIssuer, {
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['https://app.example.com/callback'],
      application_type: 'web',
    });
    const answer = await post('/token/introspection', { token: tokens.refresh_token! }, basic(confidential.client_id, String(confidential.client_secret)));
    expect(answer.body).toEqual({ active: false });
  });

  it('refuses introspection without client authentication', async () => {
    const answer = await post('/token/introspection', { token: 'anything' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });
});

describe('opaque access tokens, for resource servers that introspect', () => {
  it('introspects an access token as active for its resource, and inactive once revoked', async () => {
    const { clientId, tokens } = await obtainAccessToken({ issuer: opaque.authServerIssuer, resource: opaque.mcpUrl, user: DEMO_USERS.alice });
    expect(() => decodeProtectedHeader(tokens.access_token)).toThrow();
    const introspect = () => post('/token/introspection', { token: tokens.access_token }, basic('resource-server', RS_SECRET), opaque.authServerIssuer);

    const active = await introspect();
    expect(active.body).toMatchObject({
      active: true,
      aud: opaque.mcpUrl,
      client_id: clientId,
      scope: 'mcp:tools mcp:resources mcp:prompts',
      sub: '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11',
      token_type: 'Bearer',
    });

    // A resource server introspects for every request of every user, from one address: the
    // token endpoint's per-IP rate limit (5 here) does not apply to it.
    for (let request = 0; request < 10; request++) expect((await introspect()).status).toBe(200);

    const revoked = await post('/token/revocation', { token: tokens.access_token, client_id: clientId }, undefined, opaque.authServerIssuer);
    expect(revoked.status).toBe(200);
    expect((await introspect()).body).toEqual({ active: false });
  });
});

describe('client_credentials for pre-registered machine clients', () => {
  it('issues an at+jwt bound to the resource with its default scopes when none are asked for', async () => {
    const answer = await post('/token', { grant_type: 'client_credentials', resource: stack.mcpUrl }, basic('nightly-report', MACHINE_SECRET));
    expect(answer.status).toBe(200);
    const token = String(answer.body.access_token);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(decodeJwt(token)).toMatchObject({ aud: stack.mcpUrl, client_id: 'nightly-report', scope: 'mcp:tools mcp:resources mcp:prompts' });
  });

  it('grants only scopes the resource accepts', async () => {
    const answer = await post(
      '/token',
      { grant_type: 'client_credentials', resource: stack.mcpUrl, scope: 'mcp:tools notes:write' },
      basic('nightly-report', MACHINE_SECRET),
    );
    expect(answer.status).toBe(200);
    expect(decodeJwt(String(answer.body.access_token)).scope).toBe('mcp:tools notes:write');
    // A scope the resource does not define is not granted (RFC 6749 §3.3: the response says what was).
    const unknown = await post(
      '/token',
      { grant_type: 'client_credentials', resource: stack.mcpUrl, scope: 'mcp:tools admin:everything' },
      basic('nightly-report', MACHINE_SECRET),
    );
    expect(unknown.status).toBe(200);
    expect(unknown.body.scope).toBe('mcp:tools');
    expect(decodeJwt(String(unknown.body.access_token)).scope).toBe('mcp:tools');
  });

  it('refuses a resource it does not serve with invalid_target', async () => {
    const answer = await post(
      '/token',
      { grant_type: 'client_credentials', resource: 'https://elsewhere.example/mcp' },
      basic('nightly-report', MACHINE_SECRET),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_target');
  });

  it('refuses a wrong secret with invalid_client', async () => {
    const answer = await post('/token', { grant_type: 'client_credentials', resource: stack.mcpUrl }, basic('nightly-report', 'not-the-secret-at-all-0000'));
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });
});
