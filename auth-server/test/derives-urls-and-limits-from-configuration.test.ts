/**
 * What a client writes in a request never decides where the server says it lives or which
 * rate limit applies: endpoint URLs come from the configured issuer (not Host,
 * X-Forwarded-Host or an absolute-form target), a limit applies to the endpoint the provider
 * resolves whatever the path's spelling, and behind TRUST_PROXY the client IP is taken
 * TRUSTED_PROXY_HOPS from the right of X-Forwarded-For. Every page is protected from framing,
 * and a request with two Authorization headers is refused.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../test-support/stack.ts';

let stack: Stack;
let nextAddress = 10;

beforeAll(async () => {
  stack = await startStack({ authServerEnv: { TRUST_PROXY: 'true', RATE_LIMIT_REGISTRATION: '3', RATE_LIMIT_TOKEN: '3' } });
});
afterAll(async () => {
  await stack?.close();
});

/** A client address of its own for each test: the proxy (one hop) appends it to X-Forwarded-For. */
const freshClient = () => `198.51.100.${nextAddress++}`;

/** A raw HTTP request, so that headers and the request target go out exactly as written. */
function send(options: { method?: string; path: string; headers?: Record<string, string | string[]>; body?: string }) {
  const { port } = new URL(stack.authServerIssuer);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += String(chunk)));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text }));
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const registration = JSON.stringify({ redirect_uris: ['http://127.0.0.1:8976/callback'], application_type: 'native', token_endpoint_auth_method: 'none' });
const json = { 'content-type': 'application/json' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('rate limits apply to the endpoint, whatever the spelling', () => {
  it('counts /reg, /REG, /Reg/ and /reg/ as one registration endpoint', async () => {
    const client = freshClient();
    const statuses = [];
    for (const path of ['/reg', '/REG', '/Reg/', '/reg/']) {
      statuses.push((await send({ method: 'POST', path, headers: { ...json, 'x-forwarded-for': client }, body: registration })).status);
    }
    // The router serves every spelling (no 404), and the fourth is over the limit of three.
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('counts /TOKEN, /token/ and /Token as one token endpoint', async () => {
    const client = freshClient();
    const statuses = [];
    for (const path of ['/TOKEN', '/token/', '/Token', '/token']) {
      statuses.push((await send({ method: 'POST', path, headers: { ...form, 'x-forwarded-for': client }, body: 'grant_type=client_credentials' })).status);
    }
    expect(statuses.slice(0, 3).every((status) => status === 400)).toBe(true);
    expect(statuses[3]).toBe(429);
  });

  it('leaves introspection below the token endpoint out of its limit, in any spelling', async () => {
    const client = freshClient();
    for (const path of ['/token/introspection', '/TOKEN/Introspection', '/token/introspection/', '/token/introspection']) {
      const answer = await send({ method: 'POST', path, headers: { ...form, 'x-forwarded-for': client }, body: 'token=x' });
      expect(answer.status).not.toBe(429);
    }
  });

  it('spellings the router does not serve reach no endpoint', async () => {
    for (const path of ['//reg', '/%72eg', '/reg//']) {
      expect((await send({ method: 'POST', path, headers: json, body: registration })).status).toBe(404);
    }
  });
});

describe('the client IP behind a proxy', () => {
  it('is the address the trusted proxy appended, not what the client wrote before it', async () => {
    const client = freshClient();
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      // A client rotating a forged leftmost entry, the proxy appending the real address.
      const forwardedFor = `203.0.113.${attempt + 1}, ${client}`;
      statuses.push((await send({ method: 'POST', path: '/reg', headers: { ...json, 'x-forwarded-for': forwardedFor }, body: registration })).status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
  });
});

describe('endpoint URLs come from the configured issuer', () => {
  const issuerUrls = (metadata: Record<string, unknown>) =>
    Object.entries(metadata).filter(([key, value]) => typeof value === 'string' && (key.endsWith('_endpoint') || key === 'jwks_uri' || key === 'issuer'));

  it.each([
    ['X-Forwarded-Host and X-Forwarded-Proto', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }, undefined],
    ['a foreign Host header', { host: 'evil.example' }, undefined],
    ['an absolute-form request target', {}, 'http://evil.example/.well-known/oauth-authorization-server'],
  ])('ignores %s', async (_name, headers, target) => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const answer = await send({ path: target ?? path, headers });
      expect(answer.status).toBe(200);
      const urls = issuerUrls(JSON.parse(answer.text) as Record<string, unknown>);
      expect(urls.length).toBeGreaterThan(5);
      for (const [key, value] of urls) expect([key, value]).toEqual([key, expect.stringMatching(new RegExp(`^${stack.authServerIssuer}(/|$)`))]);
    }
  });

  it('lets clients cache the metadata and the JWKS', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/jwks']) {
      const answer = await send({ path });
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe('public, max-age=300');
    }
  });
});

describe('ambiguous or framed requests', () => {
  it('refuses two Authorization headers with invalid_request', async () => {
    const answer = await send({
      method: 'POST',
      path: '/token',
      headers: { ...form, 'x-forwarded-for': freshClient(), authorization: ['Basic YTpi', 'Basic Yzpk'] },
      body: 'grant_type=client_credentials',
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ error: 'invalid_request' });
  });

  it('protects pages oidc-provider renders (its error page) like the interaction pages', async () => {
    const answer = await send({ path: '/auth?client_id=nobody&response_type=code', headers: { accept: 'text/html' } });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/html/);
    expect(answer.headers['x-frame-options']).toBe('DENY');
    expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });
});
