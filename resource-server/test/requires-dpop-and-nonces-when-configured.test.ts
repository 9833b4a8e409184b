/**
 * The resource server's DPoP settings, as a client sees them: with DPOP=required only
 * DPoP-bound tokens pass, every 401 carries the DPoP challenge alone and the metadata says so;
 * with DPOP_NONCE_SECRET every proof needs a nonce this server issued (401 use_dpop_nonce with
 * a DPoP-Nonce to retry with), instances sharing the secret accept each other's nonces, and a
 * nonce goes stale after its time step (the clock is moved). The HTTP+SSE stream's GET needs a
 * proof for its own URL. Tokens from the real auth server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DpopKey, obtainDpopAccessToken } from '../../test-support/dpop.ts';
import { DEMO_USERS, freePort, startStack, type Stack } from '../../test-support/stack.ts';
import { loadConfig } from '../src/config.ts';
import { startResourceServer, type RunningResourceServer } from '../src/server.ts';
import { DPOP_ALGS, dpopChallenge, dpopErrorChallenge, mcp } from './helpers.ts';

let stack: Stack;
let key: DpopKey;
let bound: string;
let bearer: string;
const extra: RunningResourceServer[] = [];

/** Another instance of the stack's resource (same RESOURCE_URL and AS) on a port of its own. */
async function instance(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  extra.push(
    await startResourceServer(
      loadConfig({
        RESOURCE_URL: stack.mcpUrl,
        PORT: String(port),
        AUTH_SERVER_ISSUER: stack.authServerIssuer,
        LOG_LEVEL: 'silent',
        STORE: 'memory',
        REVOKED_GRANTS: 'off',
        ...env,
      }),
    ),
  );
  return `http://127.0.0.1:${port}/mcp`;
}

beforeAll(async () => {
  // The auth server leaves DPoP optional, so it still issues Bearer tokens for the resource
  // server to refuse (a deployment sets RESOURCE_DPOP=required there too).
  stack = await startStack({ resourceServerEnv: { DPOP: 'required' } });
  key = await DpopKey.generate();
  bound = String(
    (await obtainDpopAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, key })).response.body.access_token,
  );
  bearer = String(
    (await obtainDpopAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob, key: undefined })).response.body.access_token,
  );
});
afterAll(async () => {
  await Promise.allSettled([...extra.map((server) => server.close()), stack?.close()]);
});
afterEach(() => {
  vi.useRealTimers();
});

const whoami = { method: 'tools/call', params: { name: 'whoami', arguments: {} } };
const withDpop = async (url: string, nonce?: string) =>
  mcp(url, {
    ...whoami,
    headers: { authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'POST', htu: stack.mcpUrl, accessToken: bound, ...(nonce ? { nonce } : {}) }) },
  });

describe('DPOP=required', () => {
  it('challenges with DPoP alone', async () => {
    const response = await mcp(stack.mcpUrl, { method: 'tools/list' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(dpopChallenge(stack.resourceMetadataUrl));
  });

  it('says so in its metadata', async () => {
    const metadata = (await (await fetch(stack.resourceMetadataUrl)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ dpop_signing_alg_values_supported: DPOP_ALGS.split(' '), dpop_bound_access_tokens_required: true });
  });

  it('refuses a Bearer token with invalid_token in the DPoP challenge', async () => {
    const response = await mcp(stack.mcpUrl, { ...whoami, token: bearer });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      dpopChallenge(stack.resourceMetadataUrl, {
        error: 'invalid_token',
        description: 'This resource accepts only DPoP-bound access tokens, with the DPoP scheme and a proof.',
      }),
    );
  });

  it('refuses a bad proof in the DPoP challenge, and serves a good one', async () => {
    const refused = await mcp(stack.mcpUrl, { ...whoami, headers: { authorization: `DPoP ${bound}` } });
    expect(refused.headers.get('www-authenticate')).toBe(
      dpopChallenge(stack.resourceMetadataUrl, { error: 'invalid_dpop_proof', description: 'The request carries no DPoP proof.' }),
    );
    expect((await withDpop(stack.mcpUrl)).status).toBe(200);
  });
});

describe('DPOP_NONCE_SECRET', () => {
  const secret = randomBytes(32).toString('base64url');
  let first: string;
  let twin: string;
  beforeAll(async () => {
    [first, twin] = [await instance({ DPOP_NONCE_SECRET: secret }), await instance({ DPOP_NONCE_SECRET: secret })];
  });

  it('answers a proof without a nonce with use_dpop_nonce and a nonce to retry with', async () => {
    const refused = await withDpop(first);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      dpopErrorChallenge(stack.resourceMetadataUrl, 'use_dpop_nonce', 'This resource requires a nonce in DPoP proofs: use the DPoP-Nonce it sent.'),
    );
    expect(refused.body).toEqual({ error: 'use_dpop_nonce', error_description: 'This resource requires a nonce in DPoP proofs: use the DPoP-Nonce it sent.' });
    const nonce = refused.headers.get('dpop-nonce')!;
    expect(nonce).toMatch(/^[\w-]{43}$/);

    const served = await withDpop(first, nonce);
    expect(served.status).toBe(200);
    expect(served.headers.get('dpop-nonce')).toBeNull();
    // Another instance with the same secret accepts it.
    expect((await withDpop(twin, nonce)).status).toBe(200);
  });

  it('refuses a nonce it did not issue', async () => {
    const refused = await withDpop(first, 'a-nonce-nobody-issued');
    expect(refused.headers.get('www-authenticate')).toBe(
      dpopErrorChallenge(
        stack.resourceMetadataUrl,
        'use_dpop_nonce',
        'The nonce of the DPoP proof is not (or no longer) valid: use the DPoP-Nonce this response carries.',
      ),
    );
  });

  it('hands out the next nonce when the time step moves on, and refuses one two steps old', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const nonce = (await withDpop(first)).headers.get('dpop-nonce')!;
    vi.setSystemTime(Date.now() + 60_000);
    const served = await withDpop(first, nonce);
    expect(served.status).toBe(200);
    const next = served.headers.get('dpop-nonce');
    expect(next).toMatch(/^[\w-]{43}$/);
    expect(next).not.toBe(nonce);

    vi.setSystemTime(Date.now() + 60_000);
    const stale = await withDpop(first, nonce);
    expect(stale.status).toBe(401);
    expect(stale.body.error).toBe('use_dpop_nonce');
    expect((await withDpop(first, stale.headers.get('dpop-nonce')!)).status).toBe(200);
  });

  it('refuses a configured secret that is not 32 bytes', () => {
    expect(() => loadConfig({ DPOP_NONCE_SECRET: 'too-short' })).toThrow(/DPOP_NONCE_SECRET: must be 32 bytes/);
    expect(() => loadConfig({ DPOP: 'sometimes' })).toThrow(/DPOP: must be optional or required/);
    expect(() => loadConfig({ DPOP_ALGS: 'HS256' })).toThrow(/DPOP_ALGS/);
  });
});

describe('the HTTP+SSE paths (LEGACY_SSE=true) pass the same DPoP step', () => {
  let sseUrl: string;
  beforeAll(async () => {
    sseUrl = `${await instance({ LEGACY_SSE: 'true' })}/sse`;
  });

  const openStream = async (htu: string) => {
    const controller = new AbortController();
    const response = await fetch(sseUrl, {
      headers: { accept: 'text/event-stream', authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu, accessToken: bound }) },
      signal: controller.signal,
    });
    controller.abort();
    return response;
  };

  it('opens a stream with a proof for GET <resource>/sse', async () => {
    const response = await openStream(`${stack.mcpUrl}/sse`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  });

  it('refuses a proof for the MCP endpoint instead', async () => {
    const response = await openStream(stack.mcpUrl);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      dpopErrorChallenge(stack.resourceMetadataUrl, 'invalid_dpop_proof', 'The DPoP proof is for another URL (htu).'),
    );
  });
});
