/**
 * DPoP (RFC 9449) at the real auth server's token endpoint, as a client sees it: a proof
 * binds the access token to its key (`token_type: DPoP`, `cnf.jkt`) for the authorization
 * code, refresh and client_credentials grants; a public client's refresh token is bound to
 * the same key; a bad or replayed proof is refused (the replay across two instances sharing
 * the store); a resource declared `dpop: required` gets no token without a proof, while the
 * default resource still issues Bearer tokens; with DPOP_NONCE_SECRET a proof needs the
 * server's nonce (use_dpop_nonce, DPoP-Nonce).
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DpopKey, dpopTokenRequest, obtainDpopAccessToken } from '../../test-support/dpop.ts';
import { authorizeClient, registerClient } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const MACHINE = { id: 'nightly-report', secret: randomBytes(24).toString('base64url') };
const basic = `Basic ${Buffer.from(`${MACHINE.id}:${MACHINE.secret}`).toString('base64')}`;

let stack: Stack;
let requiredResource: string;
beforeAll(async () => {
  stack = await startStack({
    extraResourcePaths: ['/dpop-only'],
    extraResourceDpop: 'required',
    tokenExchange: true,
    extraClients: [{ client_id: MACHINE.id, client_secret: MACHINE.secret, grant_types: ['client_credentials'] }],
    authServerEnv: { RATE_LIMIT_REGISTRATION: '1000', RATE_LIMIT_TOKEN: '1000' },
  });
  requiredResource = stack.extraResources[0]!;
});
afterAll(() => stack?.close());

const login = (key: DpopKey | undefined, resource = stack.mcpUrl) =>
  obtainDpopAccessToken({ issuer: stack.authServerIssuer, resource, user: DEMO_USERS.alice, key });
const machineToken = (key: DpopKey | undefined, resource = stack.mcpUrl, issuer = stack.authServerIssuer, proof?: string) =>
  dpopTokenRequest(issuer, { grant_type: 'client_credentials', resource }, key, { headers: { authorization: basic, ...(proof ? { dpop: proof } : {}) } });

describe('the metadata', () => {
  it('lists the DPoP proof algorithms', async () => {
    const metadata = (await (await fetch(`${stack.authServerIssuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'Ed25519', 'EdDSA']);
  });
});

describe('the authorization code and refresh grants', () => {
  it('bind the access token to the proof key, and a public client’s refresh token to the same key', async () => {
    const key = await DpopKey.generate();
    const { clientId, response } = await login(key);
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('DPoP');
    const accessToken = String(response.body.access_token);
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    expect(decodeJwt(accessToken).cnf).toEqual({ jkt: key.thumbprint });
    const refreshToken = String(response.body.refresh_token);

    const refresh = (with_: DpopKey | undefined) =>
      dpopTokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }, with_);
    const withoutProof = await refresh(undefined);
    expect(withoutProof.status).toBe(400);
    expect(withoutProof.body.error).toBe('invalid_grant');
    const otherKey = await refresh(await DpopKey.generate());
    expect(otherKey.status).toBe(400);
    expect(otherKey.body.error).toBe('invalid_grant');

    const refreshed = await refresh(key);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.token_type).toBe('DPoP');
    // Bound to the key, it is not rotated (oidc-provider's default for sender-constrained refresh tokens).
    expect(refreshed.body.refresh_token).toBe(refreshToken);
    expect(decodeJwt(String(refreshed.body.access_token)).cnf).toEqual({ jkt: key.thumbprint });
  });

  it('issue Bearer tokens without a proof for a resource where DPoP is optional', async () => {
    const { clientId, response } = await login(undefined);
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('Bearer');
    expect(decodeJwt(String(response.body.access_token)).cnf).toBeUndefined();
    const refreshed = await dpopTokenRequest(
      stack.authServerIssuer,
      { grant_type: 'refresh_token', refresh_token: String(response.body.refresh_token), client_id: clientId },
      undefined,
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.token_type).toBe('Bearer');
  });

  it('refuse a proof for another endpoint with invalid_dpop_proof, leaving the code usable', async () => {
    const key = await DpopKey.generate();
    const wrongHtu = await key.proof({ htm: 'POST', htu: `${stack.authServerIssuer}/token/introspection` });
    const { body: client } = await registerClient(stack.authServerIssuer);
    const redirectUri = client.redirect_uris[0]!;
    const { callback, verifier } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId: client.client_id,
      redirectUri,
      user: DEMO_USERS.alice,
      params: { scope: 'mcp:tools', resource: stack.mcpUrl },
    });
    const params = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: client.client_id,
      resource: stack.mcpUrl,
    };

    const refused = await dpopTokenRequest(stack.authServerIssuer, params, undefined, { headers: { dpop: wrongHtu } });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_dpop_proof');
    const accepted = await dpopTokenRequest(stack.authServerIssuer, params, key);
    expect(accepted.status).toBe(200);
    expect(accepted.body.token_type).toBe('DPoP');
  });
});

describe('the client_credentials grant', () => {
  it('binds the machine token to the proof key', async () => {
    const key = await DpopKey.generate();
    const response = await machineToken(key);
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('DPoP');
    expect(decodeJwt(String(response.body.access_token)).cnf).toEqual({ jkt: key.thumbprint });
  });

  it('refuses a proof presented twice, also at another instance sharing the store', async () => {
    const key = await DpopKey.generate();
    const proof = await key.proof({ htm: 'POST', htu: `${stack.authServerIssuer}/token` });
    expect((await machineToken(undefined, stack.mcpUrl, stack.authServerIssuer, proof)).status).toBe(200);
    const again = await machineToken(undefined, stack.mcpUrl, stack.authServerIssuer, proof);
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });

    // The replica has the same issuer, so the proof's htu is right for it too.
    const replica = await stack.startAuthServerReplica();
    const fresh = await key.proof({ htm: 'POST', htu: `${stack.authServerIssuer}/token` });
    expect((await machineToken(undefined, stack.mcpUrl, stack.authServerIssuer, fresh)).status).toBe(200);
    const atReplica = await machineToken(undefined, stack.mcpUrl, replica, fresh);
    expect(atReplica.status).toBe(400);
    expect(atReplica.body.error).toBe('invalid_grant');
  });
});

describe('a resource that requires DPoP', () => {
  it('gets no token from a code exchange without a proof, and a bound one with a proof', async () => {
    const refused = await login(undefined, requiredResource);
    expect(refused.response.status).toBe(400);
    expect(refused.response.body).toEqual({
      error: 'invalid_dpop_proof',
      error_description: `${requiredResource} accepts only DPoP-bound access tokens: send a DPoP proof (RFC 9449) with the token request`,
    });
    const key = await DpopKey.generate();
    const { response } = await login(key, requiredResource);
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('DPoP');
    expect(decodeJwt(String(response.body.access_token))).toMatchObject({ aud: requiredResource, cnf: { jkt: key.thumbprint } });
  });

  it('gets no machine token without a proof', async () => {
    const refused = await machineToken(undefined, requiredResource);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_dpop_proof');
    const bound = await machineToken(await DpopKey.generate(), requiredResource);
    expect(bound.status).toBe(200);
    expect(bound.body.token_type).toBe('DPoP');
  });
});

describe('server-provided nonces (DPOP_NONCE_SECRET)', () => {
  let nonceStack: Stack;
  beforeAll(async () => {
    nonceStack = await startStack({
      authServerStorage: 'memory',
      tokenExchange: true,
      extraClients: [{ client_id: MACHINE.id, client_secret: MACHINE.secret, grant_types: ['client_credentials'] }],
      authServerEnv: { DPOP_NONCE_SECRET: randomBytes(32).toString('base64url') },
    });
  });
  afterAll(() => nonceStack?.close());

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce to retry with', async () => {
    const key = await DpopKey.generate();
    const first = await machineToken(key, nonceStack.mcpUrl, nonceStack.authServerIssuer);
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[\w-]{20,}$/);

    const retried = await dpopTokenRequest(nonceStack.authServerIssuer, { grant_type: 'client_credentials', resource: nonceStack.mcpUrl }, key, {
      nonce: nonce!,
      headers: { authorization: basic },
    });
    expect(retried.status).toBe(200);
    expect(retried.body.token_type).toBe('DPoP');
  });

  it('refuses a nonce it did not issue', async () => {
    const key = await DpopKey.generate();
    const response = await dpopTokenRequest(nonceStack.authServerIssuer, { grant_type: 'client_credentials', resource: nonceStack.mcpUrl }, key, {
      nonce: 'not-a-nonce-of-this-server',
      headers: { authorization: basic },
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('use_dpop_nonce');
  });
});

describe('configuration', () => {
  const base = { IDP_CLIENT_SECRET: 'x' };
  it('takes RESOURCE_DPOP and a 32-byte DPOP_NONCE_SECRET, and refuses anything else', () => {
    expect(loadConfig({ ...base, RESOURCE_DPOP: 'required' }).resource.dpop).toBe('required');
    expect(loadConfig({ ...base, RESOURCE_DPOP: '' }).resource.dpop).toBe('optional');
    expect(loadConfig({ ...base, DPOP_NONCE_SECRET: 'ab'.repeat(32) }).dpop.nonceSecret?.length).toBe(32);
    expect(() => loadConfig({ ...base, RESOURCE_DPOP: 'always' })).toThrow(/RESOURCE_DPOP: must be optional or required/);
    expect(() => loadConfig({ ...base, DPOP_NONCE_SECRET: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, DPOP_NONCE_SECRET: 'short' })).toThrow(/DPOP_NONCE_SECRET: must be 32 bytes/);
  });
});
