/**
 * DPoP (RFC 9449) at the resource server, as a client sees it: the real auth server issues
 * DPoP-bound tokens (cnf.jkt) through the real flow, and every request with one needs a fresh
 * proof of its key for this request. Each malformed proof a conformance checker would send
 * gets 401 `invalid_dpop_proof` with the exact challenges (Bearer and DPoP, DPoP carrying the
 * error); a bound token sent as Bearer, or an unbound one as DPoP, gets `invalid_token`. A
 * proof is accepted once, also across two instances sharing Redis. The verified-token cache
 * never skips the proof, revoked grants reach DPoP tokens, and the 403 step-up speaks DPoP.
 * The clock is moved for the iat window, never waited for.
 */
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateSecret, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { accessTokenHash, DpopKey, dpopTokenRequest, obtainDpopAccessToken } from '../../test-support/dpop.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { DEMO_USERS, freePort, startStack, type Stack } from '../../test-support/stack.ts';
import { loadConfig } from '../src/config.ts';
import { startResourceServer, type RunningResourceServer } from '../src/server.ts';
import { DPOP_ALGS, dpopErrorChallenge, invalidTokenChallenge, mcp, type McpResponse } from './helpers.ts';

let redis: TestRedis;
let stack: Stack;
let second: RunningResourceServer;
let secondUrl: string;
let key: DpopKey;
let bound: { token: string; clientId: string; refreshToken: string };
let bearer: string;

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({
    resourceServerEnv: { STORE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'dpop-test:' },
    authServerEnv: { RATE_LIMIT_REGISTRATION: '1000' },
  });
  // A second instance of the same resource (same RESOURCE_URL, as behind a load balancer) on
  // another port, sharing the Redis: proofs name the public URL, not the port they reach.
  const port = await freePort();
  const config = loadConfig({
    RESOURCE_URL: stack.mcpUrl,
    PORT: String(port),
    AUTH_SERVER_ISSUER: stack.authServerIssuer,
    LOG_LEVEL: 'silent',
    STORE: 'redis',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'dpop-test:',
    REVOKED_GRANTS: 'off',
  });
  second = await startResourceServer(config);
  secondUrl = `http://127.0.0.1:${port}/mcp`;

  key = await DpopKey.generate();
  const login = await obtainDpopAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, key });
  bound = { token: String(login.response.body.access_token), clientId: login.clientId, refreshToken: String(login.response.body.refresh_token) };
  const plain = await obtainDpopAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob, key: undefined });
  bearer = String(plain.response.body.access_token);
});
afterAll(async () => {
  await Promise.allSettled([second?.close(), stack?.close()]);
  await redis?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

const whoami = { method: 'tools/call', params: { name: 'whoami', arguments: {} } };
const proofFor = (options: Partial<Parameters<DpopKey['proof']>[0]> = {}, signer: DpopKey = key) =>
  signer.proof({ htm: 'POST', htu: stack.mcpUrl, accessToken: bound.token, ...options });
const withDpop = (proof: string | undefined, token = bound.token, url = stack.mcpUrl, call: Record<string, unknown> = whoami) =>
  mcp(url, { ...(call as { method: string }), headers: { authorization: `DPoP ${token}`, ...(proof ? { dpop: proof } : {}) } });

function expectProofRefused(response: McpResponse, description: string) {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(dpopErrorChallenge(stack.resourceMetadataUrl, 'invalid_dpop_proof', description));
  expect(response.body).toEqual({ error: 'invalid_dpop_proof', error_description: description });
}

/** base64url(JSON) — for proofs jose would refuse to produce (alg none). */
const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('a DPoP-bound token with a fresh proof', () => {
  it('is served, request after request, each with its own proof', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await withDpop(await proofFor());
      expect(response.status).toBe(200);
      expect(response.body.result.structuredContent.subject).toBeTruthy();
    }
  });

  it('is served when the proof spells this URL differently but equivalently (RFC 3986 normalisation)', async () => {
    const url = new URL(stack.mcpUrl);
    const response = await withDpop(await proofFor({ htu: `HTTP://${url.host}/./%6dcp` }));
    expect(response.status).toBe(200);
  });

  it('never skips the proof because the token’s verification is remembered', async () => {
    expect((await withDpop(await proofFor())).status).toBe(200);
    expectProofRefused(await withDpop(undefined), 'The request carries no DPoP proof.');
  });
});

describe('malformed proofs: 401 invalid_dpop_proof', () => {
  it('without a proof', async () => {
    expectProofRefused(await withDpop(undefined), 'The request carries no DPoP proof.');
  });

  it('with two proofs', async () => {
    const [first, other] = [await proofFor(), await proofFor()];
    const answer = await rawPost(stack.mcpUrl, { authorization: `DPoP ${bound.token}`, dpop: [first, other] });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe(
      dpopErrorChallenge(stack.resourceMetadataUrl, 'invalid_dpop_proof', 'The request carries more than one DPoP proof.'),
    );
  });

  it('typed JWT instead of dpop+jwt', async () => {
    expectProofRefused(await withDpop(await proofFor({ header: { typ: 'JWT' } })), 'The DPoP proof is not typed dpop+jwt.');
  });

  it('unsigned (alg none)', async () => {
    const header = { typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk };
    const payload = { jti: 'unsigned-1', htm: 'POST', htu: stack.mcpUrl, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(bound.token) };
    expectProofRefused(await withDpop(`${segment(header)}.${segment(payload)}.`), 'The DPoP proof is signed with an algorithm this server does not accept.');
  });

  it('signed with HMAC (HS256, the key in the header)', async () => {
    const secret = await generateSecret('HS256', { extractable: true });
    const proof = await new SignJWT({ jti: 'hmac-1', htm: 'POST', htu: stack.mcpUrl, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(bound.token) })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: await exportJWK(secret) })
      .sign(secret);
    expectProofRefused(await withDpop(proof), 'The DPoP proof is signed with an algorithm this server does not accept.');
  });

  it('with the private key in its jwk', async () => {
    expectProofRefused(await withDpop(await proofFor({ header: { jwk: await key.privateJwk() } })), 'The key of the DPoP proof contains private key material.');
  });

  it('with a bad signature (signed by another key than the jwk it carries)', async () => {
    const other = await DpopKey.generate();
    expectProofRefused(await withDpop(await proofFor({ header: { jwk: key.publicJwk } }, other)), 'The DPoP proof signature is invalid.');
  });

  it('for another method (htm)', async () => {
    expectProofRefused(await withDpop(await proofFor({ htm: 'GET' })), 'The DPoP proof is for another HTTP method (htm).');
  });

  it.each([
    ['another path', (url: URL) => `${url.origin}/other`],
    ['another host', (url: URL) => `http://evil.example:${url.port}${url.pathname}`],
    ['a query', (url: URL) => `${url.href}?session=1`],
  ])('for another URL (htu with %s)', async (_label, htu) => {
    expectProofRefused(await withDpop(await proofFor({ htu: htu(new URL(stack.mcpUrl)) })), 'The DPoP proof is for another URL (htu).');
  });

  it('too old (iat beyond DPOP_PROOF_MAX_AGE_SECONDS, 60 s)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const [atLimit, beyond] = [await proofFor(), await proofFor()];
    vi.setSystemTime(Date.now() + 60_000);
    expect((await withDpop(atLimit)).status).toBe(200);
    vi.setSystemTime(Date.now() + 1_000);
    expectProofRefused(await withDpop(beyond), 'The DPoP proof is too old (iat).');
  });

  it('from the future (iat beyond CLOCK_TOLERANCE, 5 s)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const now = Math.floor(Date.now() / 1000);
    vi.setSystemTime(now * 1000);
    expect((await withDpop(await proofFor({ iat: now + 5 }))).status).toBe(200);
    expectProofRefused(await withDpop(await proofFor({ iat: now + 6 })), 'The DPoP proof is issued in the future (iat).');
  });

  it('without the access token hash (ath)', async () => {
    expectProofRefused(await withDpop(await proofFor({ claims: { ath: undefined } })), 'The DPoP proof has no access token hash (ath).');
  });

  it('for another access token (ath)', async () => {
    expectProofRefused(await withDpop(await proofFor({ accessToken: bearer })), 'The DPoP proof is for another access token (ath).');
  });

  it('presented again (jti replayed)', async () => {
    const proof = await proofFor();
    expect((await withDpop(proof)).status).toBe(200);
    expectProofRefused(await withDpop(proof), 'The DPoP proof was used before: every request needs a new proof (jti).');
  });

  it('presented again at another instance sharing the Redis', async () => {
    expect((await withDpop(await proofFor(), bound.token, secondUrl)).status).toBe(200);
    const proof = await proofFor();
    expect((await withDpop(proof)).status).toBe(200);
    expectProofRefused(await withDpop(proof, bound.token, secondUrl), 'The DPoP proof was used before: every request needs a new proof (jti).');
  });

  it('signed by a key other than the one the token is bound to', async () => {
    expectProofRefused(
      await withDpop(await proofFor({}, await DpopKey.generate())),
      'The DPoP proof is signed with another key than the one the access token is bound to.',
    );
  });
});

describe('the scheme must match the token: 401 invalid_token', () => {
  it('refuses a DPoP-bound token sent as Bearer', async () => {
    const response = await mcp(stack.mcpUrl, { ...whoami, token: bound.token, headers: { dpop: await proofFor() } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      invalidTokenChallenge(stack.resourceMetadataUrl, 'The access token is bound to a DPoP key: send it with the DPoP scheme and a DPoP proof.'),
    );
  });

  it('refuses an unbound token sent with the DPoP scheme, even with a good proof', async () => {
    const response = await withDpop(await proofFor({ accessToken: bearer }), bearer);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      dpopErrorChallenge(stack.resourceMetadataUrl, 'invalid_token', 'The access token is not DPoP-bound: it cannot be used with the DPoP scheme.'),
    );
  });

  it('still serves Bearer tokens as Bearer (DPoP optional, the default)', async () => {
    expect((await mcp(stack.mcpUrl, { ...whoami, token: bearer })).status).toBe(200);
  });
});

describe('step-up and revocation with DPoP tokens', () => {
  it('answers a missing scope with a DPoP insufficient_scope challenge, and serves the stepped-up token bound to the same key', async () => {
    const addNote = { method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'bound' } } };
    const refused = await withDpop(await proofFor(), bound.token, stack.mcpUrl, addNote);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe(
      `DPoP error="insufficient_scope", scope="mcp:tools notes:write", algs="${DPOP_ALGS}", resource_metadata="${stack.resourceMetadataUrl}", error_description="tools/call notes_add needs the scopes mcp:tools notes:write."`,
    );
    const stepped = await obtainDpopAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.alice,
      key,
      scope: 'mcp:tools mcp:resources mcp:prompts notes:write',
    });
    const token = String(stepped.response.body.access_token);
    const added = await withDpop(await proofFor({ accessToken: token }), token, stack.mcpUrl, addNote);
    expect(added.status).toBe(200);
    expect(added.body.result.isError).toBeFalsy();
  });

  it('refuses a DPoP token of a revoked grant', async () => {
    const own = await obtainDpopAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, key });
    const token = String(own.response.body.access_token);
    expect((await withDpop(await proofFor({ accessToken: token }), token)).status).toBe(200);
    const revocation = await fetch(`${stack.authServerIssuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: String(own.response.body.refresh_token), token_type_hint: 'refresh_token', client_id: own.clientId }),
    });
    expect(revocation.status).toBe(200);
    // The auth server publishes the revocation as it answers: read until it is there (bounded).
    let refused: McpResponse | undefined;
    for (let attempt = 0; attempt < 50 && refused?.status !== 401; attempt++) {
      if (attempt) await sleep(20);
      await stack.resourceServer.revokedGrants!.poll();
      refused = await withDpop(await proofFor({ accessToken: token }), token);
    }
    expect(refused!.status).toBe(401);
    expect(refused!.headers.get('www-authenticate')).toBe(dpopErrorChallenge(stack.resourceMetadataUrl, 'invalid_token', 'The access token was revoked.'));
  });

  it('serves a token refreshed under a proof of the same key', async () => {
    const refreshed = await dpopTokenRequest(
      stack.authServerIssuer,
      { grant_type: 'refresh_token', refresh_token: bound.refreshToken, client_id: bound.clientId },
      key,
    );
    expect(refreshed.status).toBe(200);
    const token = String(refreshed.body.access_token);
    expect((await withDpop(await proofFor({ accessToken: token }), token)).status).toBe(200);
  });
});

/** A POST with exact header lines (an array sends the header once per value), for what fetch would merge. */
function rawPost(url: string, headers: Record<string, string | string[]>): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name: 'whoami',
      arguments: {},
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'whoami',
          ...headers,
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
