/**
 * RFC 7591 registration with a redirect URI policy, RFC 7592 management, the optional
 * initial access token, the per-IP rate limit, and loopback redirect URIs on any port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationUrl, pkce, registerClient } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { startStack, type Stack } from '../../test-support/stack.ts';

let open: Stack;
let closed: Stack;
const INITIAL_ACCESS_TOKEN = 'initial-access-token-for-tests';

beforeAll(async () => {
  open = await startStack({ authServerEnv: { RATE_LIMIT_REGISTRATION: '1000' } });
  closed = await startStack({ authServerEnv: { REGISTRATION_ACCESS_TOKEN: INITIAL_ACCESS_TOKEN, RATE_LIMIT_REGISTRATION: '4' } });
});
afterAll(async () => {
  await Promise.allSettled([open?.close(), closed?.close()]);
});

describe('redirect URI policy', () => {
  it.each([
    ['javascript:alert(1)', 'web'],
    ['data:text/html,hi', 'native'],
    ['https://app.example.com/callback#fragment', 'web'],
    ['https://*.example.com/callback', 'web'],
    ['http://app.example.com/callback', 'web'],
    ['http://app.example.com/callback', 'native'],
    ['com.example.app:/callback', 'web'],
    ['file:///etc/passwd', 'native'],
    ['https://user:pass@app.example.com/callback', 'web'],
  ])('refuses %s for a %s client with invalid_redirect_uri', async (uri, applicationType) => {
    const { status, body } = await registerClient(open.authServerIssuer, { redirect_uris: [uri], application_type: applicationType });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_redirect_uri');
    expect(body.error_description).toEqual(expect.stringContaining('redirect_uris'));
  });

  it.each([
    ['https://claude.ai/api/mcp/auth_callback', 'web'],
    ['https://claude.com/api/mcp/auth_callback', 'web'],
    ['http://localhost:6274/oauth/callback', 'web'],
    ['http://127.0.0.1/callback', 'native'],
    ['http://[::1]:33418/callback', 'native'],
    ['com.example.app:/oauth2redirect', 'native'],
  ])('accepts %s for a %s client', async (uri, applicationType) => {
    const { status, body } = await registerClient(open.authServerIssuer, { redirect_uris: [uri], application_type: applicationType });
    expect(status).toBe(201);
    expect(body.redirect_uris).toEqual([uri]);
  });

  it('registers Claude the way Claude registers: a public client with no secret', async () => {
    const { status, body } = await registerClient(open.authServerIssuer, {
      client_name: 'Claude',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_method: 'none',
      application_type: undefined,
    });
    expect(status).toBe(201);
    expect(body.client_secret).toBeUndefined();
    expect(body.token_endpoint_auth_method).toBe('none');
  });

  it('registers SDK clients that send the resource scopes in `scope`, registering only OpenID scopes', async () => {
    const { status, body } = await registerClient(open.authServerIssuer, { scope: 'mcp:tools mcp:resources mcp:prompts notes:write offline_access' });
    expect(status).toBe(201);
    expect(body.scope).toBe('offline_access');
    const unknown = await registerClient(open.authServerIssuer, { scope: 'mcp:tools admin:everything' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_client_metadata');
  });

  it('refuses malformed metadata with invalid_client_metadata', async () => {
    const { status, body } = await registerClient(open.authServerIssuer, { grant_types: 'authorization_code' });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client_metadata');
  });
});

describe('loopback redirect URIs match on any port (RFC 8252 §7.3)', () => {
  it('accepts the registered loopback URI on another port, for a web client too', async () => {
    const { body } = await registerClient(open.authServerIssuer, { redirect_uris: ['http://localhost/callback'], application_type: 'web' });
    const redirectUri = 'http://localhost:53123/callback';
    const page = await new ScriptedBrowser().open(
      authorizationUrl(open.authServerIssuer, {
        client_id: body.client_id,
        redirect_uri: redirectUri,
        scope: 'mcp:tools',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      }),
      { stopAt: (target) => !target.startsWith(open.authServerIssuer) },
    );
    // On to the IdP login, not an error page.
    expect(page.status).toBe(303);
    expect(page.stoppedAt).toContain(new URL(open.idpIssuer).origin);
  });

  it('does not extend that to other hosts or paths', async () => {
    const { body } = await registerClient(open.authServerIssuer, { redirect_uris: ['http://localhost/callback'], application_type: 'web' });
    for (const redirectUri of ['http://localhost:53123/other', 'http://127.0.0.2:53123/callback']) {
      const page = await new ScriptedBrowser().open(
        authorizationUrl(open.authServerIssuer, {
          client_id: body.client_id,
          redirect_uri: redirectUri,
          scope: 'mcp:tools',
          code_challenge: pkce().challenge,
          code_challenge_method: 'S256',
        }),
        { stopAt: (target) => !target.startsWith(open.authServerIssuer) },
      );
      expect(page.status).toBe(400);
      expect(page.text()).toContain('invalid_redirect_uri');
    }
  });
});

describe('registration management (RFC 7592)', () => {
  it('reads, updates and deletes a client with its registration access token', async () => {
    const { body } = await registerClient(open.authServerIssuer, { client_name: 'before' });
    const uri = String(body.registration_client_uri);
    let token = String(body.registration_access_token);

    const read = await fetch(uri, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { client_name: string }).client_name).toBe('before');

    const updated = await fetch(uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: body.client_id,
        client_name: 'after',
        redirect_uris: body.redirect_uris,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
    });
    expect(updated.status).toBe(200);
    const updatedBody = (await updated.json()) as { client_name: string; registration_access_token: string };
    expect(updatedBody.client_name).toBe('after');
    token = updatedBody.registration_access_token; // rotated on update

    const wrong = await fetch(uri, { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);

    expect((await fetch(uri, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(204);
    expect((await fetch(uri, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });
});

describe('closed registration and rate limits', () => {
  it('needs the initial access token when one is configured', async () => {
    const anonymous = await registerClient(closed.authServerIssuer);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('invalid_token');

    const response = await fetch(`${closed.authServerIssuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/callback'], application_type: 'native', token_endpoint_auth_method: 'none' }),
    });
    expect(response.status).toBe(201);
  });

  it('answers 429 with Retry-After once a client IP exceeds the limit', async () => {
    let last: Response | undefined;
    for (let attempt = 0; attempt < 6; attempt++) {
      last = await fetch(`${closed.authServerIssuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      if (last.status === 429) break;
    }
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await last!.json()) as { error: string }).error).toBe('too_many_requests');
  });
});
