/**
 * dev-idp as an enterprise IdP (MCP enterprise-managed authorization, SEP-990;
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3): a client it maps to a client_id at
 * an authorization server exchanges the ID token dev-idp issued to it (RFC 8693) for an
 * Identity Assertion JWT Authorization Grant, signed with dev-idp's key and verifiable with
 * its published JWKS. Every other request is refused with the error that says why.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startDevIdp, type DevIdp } from '../src/server.ts';
import { DEMO_USERS } from '../../test-support/stack.ts';
import { ID_JAG_TYPE, requestIdJag, signInAtIdp, TOKEN_EXCHANGE } from '../../test-support/enterprise-sign-in.ts';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, repoDexConfig } from './helpers.ts';

const AUTH_SERVER = 'http://127.0.0.1:4999';
const MCP_SERVER = 'http://127.0.0.1:3999/mcp';
const ALICE_SUB = '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11';

let idp: DevIdp;
let idToken: string;
beforeAll(async () => {
  idp = await startDevIdp({
    dex: await repoDexConfig(),
    port: 0,
    redirectUris: { [CLIENT_ID]: [REDIRECT_URI] },
    idJag: { audience: AUTH_SERVER, clients: { 'mcp-client-enterprise': 'mcp-enterprise-client', 'second-app': 'second-app-at-the-as' } },
  });
  idToken = await signInAtIdp(idp.issuer, 'mcp-client-enterprise', DEMO_USERS.alice);
});
afterAll(() => idp?.close());

const exchange = (overrides: Record<string, string | undefined> = {}) =>
  requestIdJag(idp.issuer, { clientId: 'mcp-client-enterprise', idToken, audience: AUTH_SERVER, resource: MCP_SERVER, ...overrides });

describe('token exchange of an ID token for an ID-JAG', () => {
  it('issues an ID-JAG for the mapped client, the authorization server and the MCP server, signed with the keys dev-idp publishes', async () => {
    const { status, body } = await exchange({ scope: 'mcp:tools notes:write' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ issued_token_type: ID_JAG_TYPE, token_type: 'N_A', expires_in: 300, scope: 'mcp:tools notes:write' });
    const jag = body.access_token as string;
    expect(decodeProtectedHeader(jag)).toMatchObject({ typ: 'oauth-id-jag+jwt', alg: 'RS256' });
    const { payload } = await jwtVerify(jag, createRemoteJWKSet(new URL(`${idp.issuer}/keys`)), {
      issuer: idp.issuer,
      audience: AUTH_SERVER,
      typ: 'oauth-id-jag+jwt',
    });
    expect(payload).toMatchObject({
      sub: ALICE_SUB,
      client_id: 'mcp-enterprise-client',
      resource: MCP_SERVER,
      scope: 'mcp:tools notes:write',
      email: 'alice@example.com',
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(typeof payload.jti).toBe('string');
    // A fresh jti each time: an ID-JAG is single use at the authorization server.
    const again = await exchange();
    expect((await jwtVerify(again.body.access_token as string, createRemoteJWKSet(new URL(`${idp.issuer}/keys`)))).payload.jti).not.toBe(payload.jti);
    expect(again.body).not.toHaveProperty('scope');
  });

  it('advertises the token exchange and the ID-JAG token type in its metadata', async () => {
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE);
    expect(metadata.identity_chaining_requested_token_types_supported).toEqual([ID_JAG_TYPE]);
  });

  it('refuses an ID token issued to another client (draft §4.3.3: its aud must be the requesting client)', async () => {
    const other = await signInAtIdp(idp.issuer, 'second-app', DEMO_USERS.bob);
    const { status, body } = await exchange({ idToken: other });
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_grant', error_description: 'subject_token is not an ID token dev-idp issued to mcp-client-enterprise' });
  });

  it('refuses a subject token it did not sign', async () => {
    const [header, payload] = idToken.split('.');
    const { body } = await exchange({ idToken: `${header}.${payload}.${Buffer.from('forged').toString('base64url')}` });
    expect(body.error).toBe('invalid_grant');
    expect((await exchange({ idToken: 'not-a-jwt' })).body.error).toBe('invalid_grant');
  });

  it('issues for the configured authorization server only', async () => {
    expect((await exchange({ audience: 'https://another-as.example' })).body).toEqual({
      error: 'invalid_target',
      error_description: `dev-idp issues ID-JAGs for ${AUTH_SERVER} only`,
    });
  });

  it('refuses requests that are not for an ID-JAG from an ID token, or that name no resource', async () => {
    const refusals = await Promise.all([
      exchange({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
      exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
      exchange({ resource: undefined }),
      exchange({ audience: undefined }),
    ]);
    expect(refusals.map(({ status, body }) => [status, body.error, body.error_description])).toEqual([
      [400, 'invalid_request', `requested_token_type must be ${ID_JAG_TYPE}`],
      [400, 'invalid_request', 'subject_token_type must be urn:ietf:params:oauth:token-type:id_token'],
      [400, 'invalid_request', 'resource is required: the MCP server the ID-JAG is for (RFC 8707)'],
      [400, 'invalid_request', 'audience is required: the issuer of the authorization server the ID-JAG is for'],
    ]);
  });

  it('lets only the clients it maps exchange (the auth server’s own client at dev-idp may not)', async () => {
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('unauthorized_client');
  });
});

describe('ID_JAG_AUDIENCE and ID_JAG_CLIENTS', () => {
  it('default to pnpm start’s auth server and the CLI’s enterprise client', () => {
    expect(loadConfig({}).idJag).toEqual({ audience: 'http://localhost:4000', clients: { 'mcp-client-enterprise': 'mcp-enterprise-client' } });
    expect(loadConfig({ ID_JAG_AUDIENCE: 'https://as.example/', ID_JAG_CLIENTS: 'a=b, c=d' }).idJag).toEqual({
      audience: 'https://as.example',
      clients: { a: 'b', c: 'd' },
    });
  });

  it('stop start-up on a malformed mapping, naming the variable', () => {
    expect(() => loadConfig({ ID_JAG_CLIENTS: 'mcp-client-enterprise' })).toThrow(ConfigError);
    expect(() => loadConfig({ ID_JAG_CLIENTS: 'mcp-client-enterprise' })).toThrow(
      /ID_JAG_CLIENTS: "mcp-client-enterprise" must be <dev-idp client>=<client_id/,
    );
    expect(() => loadConfig({ ID_JAG_AUDIENCE: 'not a url' })).toThrow(/ID_JAG_AUDIENCE/);
  });
});
