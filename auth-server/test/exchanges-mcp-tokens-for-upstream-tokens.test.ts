/**
 * RFC 8693 token exchange at the auth server, on the real stack (dev-idp, auth server on a
 * private Redis): the resource server's confidential client trades a user's MCP access token
 * for the upstream access token the auth server kept at the federated login. Every refusal
 * has its exact error code, and the upstream tokens appear in no log and in no store value
 * in clear.
 */
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { generateKeyPair, SignJWT, decodeJwt } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { obtainAccessToken, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { ACCESS_TOKEN_TYPE, exchangeToken, idpUserinfo, TOKEN_EXCHANGE } from '../../test-support/token-exchange.ts';
import { Sealer, generateSealingKey } from '../src/upstream-tokens/sealing.ts';

const ALICE_AT_THE_IDP = '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11';
const MACHINE = { clientId: 'nightly-report', clientSecret: 'nightly-report-secret-0123456789' };
const INTROSPECTOR = { clientId: 'introspecting-rs', clientSecret: 'introspecting-rs-secret-0123456789' };

let stack: Stack;
const logLines: string[] = [];
let alice: { access_token: string; refresh_token?: string };
let aliceClientId: string;

beforeAll(async () => {
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write: (chunk, _encoding, done) => {
        logLines.push(String(chunk));
        done();
      },
    }),
  );
  stack = await startStack({
    tokenExchange: true,
    extraResourcePaths: ['/other-mcp'],
    extraClients: [
      { client_id: MACHINE.clientId, client_secret: MACHINE.clientSecret, grant_types: ['client_credentials'] },
      { client_id: INTROSPECTOR.clientId, client_secret: INTROSPECTOR.clientSecret, grant_types: ['client_credentials'], introspection: true },
    ],
    authServerLogger: logger,
  });
  const login = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, scope: 'mcp:tools upstream:read' });
  alice = login.tokens;
  aliceClientId = login.clientId;
});
afterAll(() => stack?.close());

const resourceServer = () => stack.tokenExchangeClient!;
const exchange = (
  subjectToken: string | undefined,
  params: Record<string, string | undefined> = {},
  client: Parameters<typeof exchangeToken>[1] = resourceServer(),
) => exchangeToken(stack.authServerIssuer, client, { subject_token: subjectToken, audience: stack.idpIssuer, ...params });

describe('token exchange for the upstream access token', () => {
  it('is advertised in the metadata', async () => {
    const metadata = (await (await fetch(`${stack.authServerIssuer}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });

  it("answers the IdP's access token for alice, which the IdP accepts as alice", async () => {
    const { status, body } = await exchange(alice.access_token);
    expect(status).toBe(200);
    expect(body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'openid email profile offline_access' });
    expect(body.expires_in).toBeGreaterThan(3000);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'issued_token_type', 'scope', 'token_type']);
    const userinfo = await idpUserinfo(stack.idpIssuer, body.access_token!);
    expect(userinfo.status).toBe(200);
    expect(userinfo.body).toMatchObject({ sub: ALICE_AT_THE_IDP, email: 'alice@example.com' });
    // The MCP token itself carries nothing of the upstream tokens.
    expect(JSON.stringify(decodeJwt(alice.access_token))).not.toContain(body.access_token!);
  });

  it('accepts the default audience and a scope the upstream token holds', async () => {
    const again = await exchange(alice.access_token, { audience: undefined, scope: 'openid email' });
    expect(again.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE });
  });

  it('refuses a wrong client secret with invalid_client', async () => {
    const { status, body } = await exchange(alice.access_token, {}, { clientId: resourceServer().clientId, clientSecret: 'not-the-secret-at-all' });
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
  });

  it('refuses clients not allowed to exchange with unauthorized_client', async () => {
    const machine = await exchange(alice.access_token, {}, MACHINE);
    expect(machine.status).toBe(400);
    expect(machine.body.error).toBe('unauthorized_client');
    const { body: registered } = await registerClient(stack.authServerIssuer);
    const selfRegistered = await exchange(alice.access_token, {}, { clientId: registered.client_id });
    expect(selfRegistered.status).toBe(400);
    expect(selfRegistered.body.error).toBe('unauthorized_client');
    // Not even the user's own client: only resource servers exchange.
    const own = await exchange(alice.access_token, {}, { clientId: aliceClientId });
    expect(own.body.error).toBe('unauthorized_client');
  });

  it('refuses an unknown audience, and a subject token for a resource the client does not serve, with invalid_target', async () => {
    const unknown = await exchange(alice.access_token, { audience: 'https://api.example.com' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_target');
    const { tokens: forOther } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.extraResources[0]!, user: DEMO_USERS.alice });
    const misdirected = await exchange(forOther.access_token);
    expect(misdirected.status).toBe(400);
    expect(misdirected.body.error).toBe('invalid_target');
  });

  it('refuses subject tokens not issued here with invalid_grant', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const claims = decodeJwt(alice.access_token);
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    for (const token of [forged, 'not-a-token-this-server-issued']) {
      const { status, body } = await exchange(token);
      expect(status).toBe(400);
      expect(body.error).toBe('invalid_grant');
    }
    // A machine token has no user behind it.
    const machineToken = await tokenRequest(stack.authServerIssuer, {
      grant_type: 'client_credentials',
      client_id: MACHINE.clientId,
      client_secret: MACHINE.clientSecret,
      resource: stack.mcpUrl,
    });
    expect(machineToken.status).toBe(200);
    expect((await exchange(String(machineToken.body.access_token))).body.error).toBe('invalid_grant');
  });

  it('refuses an expired subject token with invalid_grant (the clock moved past its exp)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 11 * 60 * 1000);
      const { status, body } = await exchange(alice.access_token);
      expect(status).toBe(400);
      expect(body.error).toBe('invalid_grant');
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses malformed requests with invalid_request', async () => {
    expect((await exchange(undefined)).body.error).toBe('invalid_request');
    expect((await exchange(alice.access_token, { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })).body.error).toBe('invalid_request');
    expect((await exchange(alice.access_token, { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })).body.error).toBe('invalid_request');
  });

  it('refuses a subject token whose grant was revoked with invalid_grant', async () => {
    const bob = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob, scope: 'mcp:tools upstream:read' });
    expect((await exchange(bob.tokens.access_token)).status).toBe(200);
    const revoked = await fetch(`${stack.authServerIssuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: bob.tokens.refresh_token!, token_type_hint: 'refresh_token', client_id: bob.clientId }),
    });
    expect(revoked.status).toBe(200);
    const { status, body } = await exchange(bob.tokens.access_token);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });
});

describe('the upstream tokens at rest', () => {
  async function storeDump(redisUrl: string) {
    const redis = new Redis(redisUrl);
    try {
      const values: Record<string, string> = {};
      for (const key of await redis.keys('*')) {
        const type = await redis.type(key);
        if (type === 'hash') values[key] = JSON.stringify(await redis.hgetall(key));
        else if (type === 'string') values[key] = (await redis.get(key)) ?? '';
        else if (type === 'set') values[key] = JSON.stringify(await redis.smembers(key));
      }
      return values;
    } finally {
      redis.disconnect();
    }
  }

  it('are sealed with the key set’s encryption key: the store holds no token in clear, and another key opens nothing', async () => {
    const { body } = await exchange(alice.access_token);
    const upstreamAccessToken = body.access_token!;
    const dump = await storeDump(stack.authServerRedisUrl!);
    const records = Object.entries(dump).filter(([key]) => key.startsWith('oidc:UpstreamToken:'));
    expect(records.length).toBeGreaterThan(0);

    const keySet = JSON.parse(await readFile(stack.keysFile, 'utf8')) as { encryptionKeys: { kid: string; k: string }[] };
    const opened = records.map(([key, value]) => {
      const payload = JSON.parse((JSON.parse(value) as { payload: string }).payload) as { sealed: string };
      const context = key.slice('oidc:'.length);
      expect(new Sealer([generateSealingKey()]).open(payload.sealed, context)).toBeUndefined();
      return new Sealer(keySet.encryptionKeys).open(payload.sealed, context) as { tokens: { accessToken: string; refreshToken?: string } };
    });
    const alices = opened.find((record) => record.tokens.accessToken === upstreamAccessToken)!;
    expect(alices.tokens.refreshToken).toBeTruthy();

    const everything = JSON.stringify(dump);
    for (const secret of [upstreamAccessToken, alices.tokens.refreshToken!]) expect(everything).not.toContain(secret);

    // Introspection of the user's grant says nothing of them either.
    const introspected = await fetch(`${stack.authServerIssuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${INTROSPECTOR.clientId}:${INTROSPECTOR.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: alice.refresh_token! }),
    });
    const introspection = await introspected.text();
    expect(JSON.parse(introspection)).toMatchObject({ active: true, sub: decodeJwt(alice.access_token).sub });
    for (const secret of [upstreamAccessToken, alices.tokens.refreshToken!]) expect(introspection).not.toContain(secret);

    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [upstreamAccessToken, alices.tokens.refreshToken!, alice.access_token, alice.refresh_token!]) expect(logs).not.toContain(secret);
  });
});
