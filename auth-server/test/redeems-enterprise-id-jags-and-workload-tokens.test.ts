/**
 * The JWT bearer grant (RFC 7523 §2.1) for its two assertions, against the real stack:
 *
 * - enterprise-managed authorization (MCP SEP-990): alice signs in at dev-idp as the CLI's
 *   enterprise client, exchanges her ID token there for an ID-JAG (RFC 8693), redeems it here
 *   with the confidential client the ID-JAG names, and calls the MCP server's `whoami`;
 * - workload identity federation (SEP-1933): a workload presents its service-account token,
 *   signed by a stand-in for the Kubernetes API server's token issuer, as its public machine
 *   client, and calls `whoami` with the token it gets.
 *
 * A second stand-in enterprise IdP forges what dev-idp would never issue (expired, for another
 * audience, the wrong typ); a third issuer is trusted by nobody. Every refusal is checked with
 * its exact error, and the log is checked for every assertion used.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { loadAssertionIssuers, loadResources, loadStaticClients } from '../src/registry.ts';
import { loadConfig as loadDevIdpConfig } from '../../dev-idp/src/config.ts';
import { loadDexConfig } from '../../dev-idp/src/dex-config.ts';
import { callTool } from '../../resource-server/test/helpers.ts';
import { startAssertionIssuer, type AssertionIssuer } from '../../test-support/assertion-issuer.ts';
import { JWT_BEARER, redeemAssertion, requestIdJag, signInAtIdp } from '../../test-support/enterprise-sign-in.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

const ENTERPRISE = { id: 'mcp-enterprise-client', secret: 'enterprise-client-secret-0123456789' };
const SECOND = { id: 'second-enterprise-client', secret: 'second-enterprise-secret-0123456789' };
/** Authenticates with private_key_jwt (RFC 7523 §2.2): an ID-JAG client needs client authentication of some kind, not a secret. */
const KEYED = { id: 'keyed-enterprise-client', kid: 'keyed-2026-12' };
const WORKLOAD = 'reporting-workload';
const WORKLOAD_SUBJECT = 'system:serviceaccount:mcp:reporter';
const ALICE_SUB = '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11';
const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** A trusted IdP whose keys cannot be fetched: nothing listens on port 1. */
const UNREACHABLE_IDP = 'https://unreachable-idp.example';

let stack: Stack;
let kubernetesApiServer: AssertionIssuer;
let forgingIdp: AssertionIssuer;
let stranger: AssertionIssuer;
let aliceIdToken: string;
let keyedClientKey: CryptoKey;
const assertionsUsed: string[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  [kubernetesApiServer, forgingIdp, stranger] = await Promise.all([startAssertionIssuer(), startAssertionIssuer(), startAssertionIssuer()]);
  const keyPair = await generateKeyPair('ES256');
  keyedClientKey = keyPair.privateKey;
  const keyedClientJwk = { ...(await exportJWK(keyPair.publicKey)), kid: KEYED.kid, use: 'sig' };
  stack = await startStack({
    tokenExchange: true,
    extraResourcePaths: ['/another-mcp'],
    extraClients: [
      { client_id: ENTERPRISE.id, client_secret: ENTERPRISE.secret, grant_types: [JWT_BEARER] },
      { client_id: SECOND.id, client_secret: SECOND.secret, grant_types: [JWT_BEARER] },
      { client_id: KEYED.id, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [keyedClientJwk] }, grant_types: [JWT_BEARER] },
      // Public: the workload's own token is its credential.
      { client_id: WORKLOAD, token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER] },
    ],
    enterpriseClients: { 'mcp-client-enterprise': ENTERPRISE.id, 'second-enterprise-app': SECOND.id },
    extraEnterpriseIdps: [
      { issuer: forgingIdp.issuer, jwks_uri: forgingIdp.jwksUri, clients: [ENTERPRISE.id, KEYED.id] },
      { issuer: UNREACHABLE_IDP, jwks_uri: 'http://127.0.0.1:1/keys', clients: [ENTERPRISE.id] },
    ],
    workloadIssuers: [
      {
        issuer: kubernetesApiServer.issuer,
        jwks_uri: kubernetesApiServer.jwksUri,
        subjects: [WORKLOAD_SUBJECT],
        client_id: WORKLOAD,
        scopes: ['mcp:tools', 'mcp:resources'],
      },
    ],
    authServerLogger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }),
  });
  aliceIdToken = await signInAtIdp(stack.idpIssuer, 'mcp-client-enterprise', DEMO_USERS.alice);
});
afterAll(async () => {
  await stack?.close();
  await Promise.allSettled([kubernetesApiServer?.close(), forgingIdp?.close(), stranger?.close()]);
});

/** An ID-JAG dev-idp issues for alice (by default for the MCP server and this auth server). */
async function idJag(overrides: { resource?: string; scope?: string; clientId?: string; idToken?: string } = {}) {
  const { status, body } = await requestIdJag(stack.idpIssuer, {
    clientId: overrides.clientId ?? 'mcp-client-enterprise',
    idToken: overrides.idToken ?? aliceIdToken,
    audience: stack.authServerIssuer,
    resource: overrides.resource ?? stack.mcpUrl,
    scope: overrides.scope,
  });
  if (status !== 200) throw new Error(`dev-idp refused the token exchange: ${JSON.stringify(body)}`);
  assertionsUsed.push(body.access_token as string);
  return body.access_token as string;
}

async function redeem(assertion: string, options: { client?: { id: string; secret?: string }; resource?: string; scope?: string; at?: string } = {}) {
  assertionsUsed.push(assertion);
  const client = options.client ?? ENTERPRISE;
  return redeemAssertion(options.at ?? stack.authServerIssuer, {
    assertion,
    clientId: client.id,
    ...(client.secret ? { clientSecret: client.secret } : {}),
    ...(options.resource ? { resource: options.resource } : {}),
    ...(options.scope ? { scope: options.scope } : {}),
  });
}

const refusal = (status: number, error: string, description: string) => ({ status, body: { error, error_description: description } });

/** An ID-JAG as the forging enterprise IdP signs it: valid unless a test changes it. */
const forged = (claims: Record<string, unknown> = {}, typ: string | undefined = ID_JAG_TYP) =>
  forgingIdp.sign({ sub: 'carol', aud: stack.authServerIssuer, client_id: ENTERPRISE.id, resource: stack.mcpUrl, ...claims }, typ ? { typ } : {});

/** A service-account token as the Kubernetes API server projects it (audience: this auth server; no jti, as before ServiceAccountTokenJTI). */
const serviceAccountToken = (claims: Record<string, unknown> = {}, issuer = kubernetesApiServer) =>
  issuer.sign({
    sub: WORKLOAD_SUBJECT,
    aud: stack.authServerIssuer,
    jti: null,
    'kubernetes.io': { namespace: 'mcp', serviceaccount: { name: 'reporter' } },
    ...claims,
  });

describe('enterprise-managed authorization (ID-JAG)', () => {
  it('redeems an ID-JAG from dev-idp for an audience-bound token of the user it names, which the MCP server accepts', async () => {
    const { status, body } = await redeem(await idJag({ scope: 'mcp:tools mcp:resources' }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'mcp:tools mcp:resources' });
    // The enterprise decides each time: no refresh token, a new ID-JAG for a new token.
    expect(body).not.toHaveProperty('refresh_token');
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(decodeJwt(token)).toMatchObject({
      iss: stack.authServerIssuer,
      aud: stack.mcpUrl,
      // dev-idp is also the upstream IdP here: the same issuer and sub are the same account as her logins'.
      sub: ALICE_SUB,
      client_id: ENTERPRISE.id,
      email: 'alice@example.com',
      scope: 'mcp:tools mcp:resources',
      grant_id: expect.any(String),
    });

    const who = await callTool(stack.mcpUrl, token, 'whoami');
    expect(who.structuredContent).toMatchObject({
      subject: ALICE_SUB,
      email: 'alice@example.com',
      clientId: ENTERPRISE.id,
      scopes: ['mcp:tools', 'mcp:resources'],
    });
  });

  it('advertises the jwt-bearer grant in its metadata', async () => {
    const metadata = (await (await fetch(`${stack.authServerIssuer}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toContain(JWT_BEARER);
  });

  it('gives the resource’s default scopes to an ID-JAG without scope, and what is asked within what the ID-JAG grants', async () => {
    expect((await redeem(await idJag())).body.scope).toBe('mcp:tools mcp:resources mcp:prompts');
    expect((await redeem(await idJag({ scope: 'mcp:tools' }), { scope: 'mcp:tools notes:write' })).body.scope).toBe('mcp:tools');
    expect((await redeem(await idJag({ scope: 'mcp:tools notes:write' }), { scope: 'notes:write' })).body.scope).toBe('notes:write');
  });

  it('refuses an ID-JAG the second time (its jti), also at another instance sharing the store', async () => {
    const assertion = await idJag();
    expect((await redeem(assertion)).status).toBe(200);
    const used = refusal(400, 'invalid_grant', 'the ID-JAG was already used (its jti was seen before): ask the IdP for a new one');
    expect(await redeem(assertion)).toEqual(used);

    const replica = await stack.startAuthServerReplica();
    const another = await idJag();
    expect((await redeem(another, { at: replica })).status).toBe(200);
    expect(await redeem(another)).toEqual(used);
  });

  it('refuses an ID-JAG issued for another client', async () => {
    const bobIdToken = await signInAtIdp(stack.idpIssuer, 'second-enterprise-app', DEMO_USERS.bob);
    const forSecond = await idJag({ clientId: 'second-enterprise-app', idToken: bobIdToken });
    expect(decodeJwt(forSecond).client_id).toBe(SECOND.id);
    expect(await redeem(forSecond)).toEqual(refusal(400, 'invalid_grant', `the ID-JAG was issued for client "${SECOND.id}", not for ${ENTERPRISE.id}`));
    // The client it names may redeem it.
    expect((await redeem(forSecond, { client: SECOND })).status).toBe(200);
  });

  it('refuses an ID-JAG for a resource this server does not serve, and a resource parameter the ID-JAG does not name', async () => {
    expect(await redeem(await idJag({ resource: 'http://127.0.0.1:1/elsewhere' }))).toEqual(
      refusal(400, 'invalid_target', 'resource "http://127.0.0.1:1/elsewhere" is not served by this authorization server'),
    );
    const another = stack.extraResources[0]!;
    expect(await redeem(await idJag(), { resource: another })).toEqual(
      refusal(400, 'invalid_target', `resource "${another}" is not one the ID-JAG was issued for`),
    );
    // The same resource, spelled differently (RFC 8707 matching), is the ID-JAG's.
    expect((await redeem(await idJag(), { resource: `${stack.mcpUrl}/` })).status).toBe(200);
  });

  it('refuses a scope the resource lacks', async () => {
    expect(await redeem(await idJag({ scope: 'mcp:tools payroll:admin' }))).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: `payroll:admin: not a scope of ${stack.mcpUrl}`, scope: 'payroll:admin' },
    });
  });

  it('refuses an ID-JAG for another audience, expired, of the wrong typ, or without jti', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await redeem(await forged())).status).toBe(200); // the forging IdP is trusted: what follows is refused for its claims alone
    expect(await redeem(await forged({ aud: 'https://another-as.example' }))).toEqual(
      refusal(400, 'invalid_grant', `the ID-JAG is for another audience: its aud must be ${stack.authServerIssuer}`),
    );
    expect(await redeem(await forged({ iat: now - 900, exp: now - 300 }))).toEqual(
      refusal(400, 'invalid_grant', 'the ID-JAG has expired (exp is in the past)'),
    );
    expect(await redeem(await forged({}, 'JWT'))).toEqual(
      refusal(400, 'invalid_grant', "an ID-JAG must have the typ header oauth-id-jag+jwt (RFC 8725 §3.11); this assertion's is jwt"),
    );
    expect(await redeem(await forged({ jti: null }))).toEqual(refusal(400, 'invalid_grant', 'the ID-JAG has no jti claim'));
    expect(await redeem(await forged({ client_id: null }))).toEqual(refusal(400, 'invalid_grant', 'the ID-JAG has no client_id claim'));
  });

  it('redeems an ID-JAG for a client that authenticates with private_key_jwt', async () => {
    const clientAssertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: KEYED.kid })
      .setIssuer(KEYED.id)
      .setSubject(KEYED.id)
      .setAudience(stack.authServerIssuer)
      .setIssuedAt()
      .setExpirationTime('60s')
      .setJti(randomUUID())
      .sign(keyedClientKey);
    const assertion = await forged({ client_id: KEYED.id, scope: 'mcp:tools' });
    assertionsUsed.push(assertion, clientAssertion);
    const response = await fetch(`${stack.authServerIssuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: JWT_BEARER,
        assertion,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      }),
    });
    expect(response.status).toBe(200);
    const token = ((await response.json()) as { access_token: string }).access_token;
    expect(decodeJwt(token)).toMatchObject({ client_id: KEYED.id, scope: 'mcp:tools', aud: stack.mcpUrl });
  });

  it('refuses dev-idp’s ID token itself: it is not an ID-JAG (typ)', async () => {
    expect(await redeem(aliceIdToken)).toEqual(
      refusal(400, 'invalid_grant', "an ID-JAG must have the typ header oauth-id-jag+jwt (RFC 8725 §3.11); this assertion's is absent"),
    );
  });

  it('refuses an ID-JAG of an untrusted issuer, or one signed with a key its issuer does not publish', async () => {
    const untrusted = await stranger.sign(
      { sub: 'mallory', aud: stack.authServerIssuer, client_id: ENTERPRISE.id, resource: stack.mcpUrl },
      { typ: ID_JAG_TYP },
    );
    expect(await redeem(untrusted)).toEqual(
      refusal(400, 'invalid_grant', `the ID-JAG's issuer "${stranger.issuer}" is not an enterprise IdP this server trusts`),
    );
    const impostor = await stranger.sign(
      { iss: forgingIdp.issuer, sub: 'mallory', aud: stack.authServerIssuer, client_id: ENTERPRISE.id, resource: stack.mcpUrl },
      { typ: ID_JAG_TYP },
    );
    expect(await redeem(impostor)).toEqual(
      refusal(400, 'invalid_grant', `the ID-JAG's signature does not verify with the keys ${forgingIdp.issuer} publishes`),
    );
    expect(await redeem('not.a.jwt')).toEqual(refusal(400, 'invalid_grant', 'assertion is not a signed JWT (RFC 7523 §2.1)'));
  });

  it('answers 503 when a trusted IdP’s keys cannot be fetched, and logs why', async () => {
    const assertion = await stranger.sign(
      { iss: UNREACHABLE_IDP, sub: 'dave', aud: stack.authServerIssuer, client_id: ENTERPRISE.id, resource: stack.mcpUrl },
      { typ: ID_JAG_TYP },
    );
    expect(await redeem(assertion)).toEqual(
      refusal(503, 'temporarily_unavailable', `the keys of ${UNREACHABLE_IDP} cannot be fetched right now; try again shortly`),
    );
    expect(logLines.join('\n')).toContain('cannot be fetched');
  });

  it('refuses a client that fails authentication, one not listed for the IdP, and one without the grant', async () => {
    const assertion = await idJag();
    expect(await redeem(assertion, { client: { id: ENTERPRISE.id, secret: 'not-the-secret-0123456789' } })).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(await redeem(await forged({ client_id: SECOND.id }), { client: SECOND })).toEqual(
      refusal(400, 'unauthorized_client', `client ${SECOND.id} may not redeem ID-JAGs of ${forgingIdp.issuer}`),
    );
    expect(await redeem(assertion, { client: { id: WORKLOAD } })).toEqual(
      refusal(400, 'unauthorized_client', `client ${WORKLOAD} may not redeem ID-JAGs of ${stack.idpIssuer}`),
    );
    const resourceServer = stack.tokenExchangeClient!;
    expect(await redeem(assertion, { client: { id: resourceServer.clientId, secret: resourceServer.clientSecret } })).toEqual(
      refusal(400, 'unauthorized_client', 'requested grant type is not allowed for this client'),
    );
    // None of these used the ID-JAG up.
    expect((await redeem(assertion)).status).toBe(200);
  });
});

describe('workload identity federation', () => {
  const asWorkload = (assertion: string, options: { resource?: string; scope?: string } = {}) => redeem(assertion, { client: { id: WORKLOAD }, ...options });

  it('redeems a service-account token for a machine token of its client, which the MCP server accepts', async () => {
    const { status, body } = await asWorkload(await serviceAccountToken());
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'mcp:tools mcp:resources' });
    expect(body).not.toHaveProperty('refresh_token');
    const token = body.access_token as string;
    expect(decodeJwt(token)).toMatchObject({ iss: stack.authServerIssuer, aud: stack.mcpUrl, sub: WORKLOAD, client_id: WORKLOAD });
    const who = await callTool(stack.mcpUrl, token, 'whoami');
    expect(who.structuredContent).toMatchObject({ subject: WORKLOAD, clientId: WORKLOAD, scopes: ['mcp:tools', 'mcp:resources'] });
  });

  it('takes a token without jti again until it expires, and one with a jti once', async () => {
    const withoutJti = await serviceAccountToken();
    expect((await asWorkload(withoutJti)).status).toBe(200);
    expect((await asWorkload(withoutJti)).status).toBe(200);
    const withJti = await serviceAccountToken({ jti: 'b0c7a9e2-jti' });
    expect((await asWorkload(withJti)).status).toBe(200);
    expect(await asWorkload(withJti)).toEqual(
      refusal(400, 'invalid_grant', 'the workload token was already used (its jti was seen before): present a new one'),
    );
  });

  it('grants what is asked within the configured scopes, and refuses what is outside them', async () => {
    expect((await asWorkload(await serviceAccountToken(), { scope: 'mcp:tools notes:write' })).body.scope).toBe('mcp:tools');
    expect(await asWorkload(await serviceAccountToken(), { scope: 'notes:write' })).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'this workload may have mcp:tools mcp:resources only', scope: 'notes:write' },
    });
    expect(await asWorkload(await serviceAccountToken(), { resource: stack.extraResources[0]! })).toEqual(
      refusal(400, 'invalid_target', `workloads of ${kubernetesApiServer.issuer} get tokens for ${stack.mcpUrl} only`),
    );
  });

  it('refuses a token of an unconfigured issuer, for another subject, for another audience, or expired', async () => {
    expect(await asWorkload(await serviceAccountToken({}, stranger))).toEqual(
      refusal(400, 'invalid_grant', `the assertion's issuer "${stranger.issuer}" is not trusted by this server`),
    );
    expect(await asWorkload(await serviceAccountToken({ sub: 'system:serviceaccount:mcp:intruder' }))).toEqual(
      refusal(
        400,
        'invalid_grant',
        `the workload token's subject "system:serviceaccount:mcp:intruder" is not one ${kubernetesApiServer.issuer} may get tokens for as client ${WORKLOAD}`,
      ),
    );
    expect(await asWorkload(await serviceAccountToken({ aud: 'https://kubernetes.default.svc' }))).toEqual(
      refusal(400, 'invalid_grant', `the workload token is for another audience: its aud must be ${stack.authServerIssuer}`),
    );
    const now = Math.floor(Date.now() / 1000);
    expect(await asWorkload(await serviceAccountToken({ iat: now - 7200, exp: now - 3600 }))).toEqual(
      refusal(400, 'invalid_grant', 'the workload token has expired (exp is in the past)'),
    );
  });

  it('refuses the token from any client but the one the issuer is mapped to', async () => {
    expect(await redeem(await serviceAccountToken())).toEqual(
      refusal(400, 'unauthorized_client', `client ${ENTERPRISE.id} may not redeem workload tokens of ${kubernetesApiServer.issuer}`),
    );
  });
});

describe('what is logged', () => {
  it('names refusals by their error, and never an assertion', () => {
    expect(assertionsUsed.length).toBeGreaterThan(20);
    const log = logLines.join('\n');
    // Each signed assertion's signature: no part of the log may carry one.
    for (const signature of assertionsUsed.map((assertion) => assertion.split('.')[2] ?? '').filter((part) => part.length > 40))
      expect(log).not.toContain(signature);
    expect(log).toContain('jwt-bearer: ID-JAG redeemed');
    expect(log).toContain('jwt-bearer: workload token redeemed');
    expect(log).toContain('the ID-JAG was already used');
  });
});

describe('ENTERPRISE_IDPS_FILE and WORKLOAD_ISSUERS_FILE at start-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'assertion-issuers-'));
  });

  const clients = [
    { client_id: 'enterprise', client_secret: 'enterprise-secret-0123456789', grant_types: [JWT_BEARER] },
    { client_id: 'public-app', token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER] },
    { client_id: 'machine', client_secret: 'machine-secret-0123456789', grant_types: ['client_credentials'] },
  ];
  const idp = { issuer: 'https://idp.example', jwks_uri: 'https://idp.example/keys', clients: ['enterprise'] };
  const workload = {
    issuer: 'https://kubernetes.default.svc',
    jwks_uri: 'https://kubernetes.default.svc/openid/v1/jwks',
    subjects: ['system:serviceaccount:mcp:reporter'],
    client_id: 'public-app',
    resource: 'http://localhost:3000/mcp',
    scopes: ['mcp:tools'],
  };

  async function load(files: { clients?: unknown[]; enterprise?: unknown; workload?: unknown }) {
    const write = async (name: string, content: unknown) => {
      const file = join(dir, `${name}-${Math.random().toString(36).slice(2)}.json`);
      await writeFile(file, JSON.stringify(content));
      return file;
    };
    const config = loadConfig({
      IDP_CLIENT_SECRET: 'x',
      CLIENTS_FILE: await write('clients', { clients: files.clients ?? clients }),
      ...(files.enterprise ? { ENTERPRISE_IDPS_FILE: await write('enterprise', files.enterprise) } : {}),
      ...(files.workload ? { WORKLOAD_ISSUERS_FILE: await write('workload', files.workload) } : {}),
    });
    return loadAssertionIssuers(config, await loadStaticClients(config), await loadResources(config));
  }

  it('reads both files: the audience defaults to this issuer', async () => {
    const issuers = await load({ enterprise: { enterprise_idps: [idp] }, workload: { workload_issuers: [workload] } });
    expect(issuers).toEqual({
      enterpriseIdps: [{ issuer: idp.issuer, jwksUri: idp.jwks_uri, clients: ['enterprise'] }],
      workloadIssuers: [
        {
          issuer: workload.issuer,
          jwksUri: workload.jwks_uri,
          audience: 'http://localhost:4000',
          subjects: workload.subjects,
          clientId: 'public-app',
          resource: 'http://localhost:3000/mcp',
          scopes: ['mcp:tools'],
        },
      ],
    });
  });

  it.each([
    [
      'a misspelt key',
      { enterprise: { enterprise_idps: [{ ...idp, jwks_url: idp.jwks_uri }] } },
      /ENTERPRISE_IDPS_FILE: .*enterprise-.*\.json: enterprise_idps\.0: Unrecognized key: "jwks_url"/,
    ],
    [
      'keys over plain http',
      { enterprise: { enterprise_idps: [{ ...idp, jwks_uri: 'http://idp.example/keys' }] } },
      /enterprise_idps\.0\.jwks_uri: must be an https URL/,
    ],
    [
      'a public client for ID-JAGs',
      { enterprise: { enterprise_idps: [{ ...idp, clients: ['public-app'] }] }, workload: { workload_issuers: [workload] } },
      /enterprise_idps\.0\.clients\.0: client public-app is public \(token_endpoint_auth_method none\)/,
    ],
    [
      'a client without the grant',
      { enterprise: { enterprise_idps: [{ ...idp, clients: ['enterprise', 'machine'] }] } },
      /enterprise_idps\.0\.clients\.1: client machine does not list/,
    ],
    [
      'an unknown client',
      { workload: { workload_issuers: [{ ...workload, client_id: 'nobody' }] } },
      /workload_issuers\.0\.client_id: nobody is not a CLIENTS_FILE client/,
    ],
    [
      '"*" beside a subject',
      { workload: { workload_issuers: [{ ...workload, subjects: ['*', 'x'] }] } },
      /workload_issuers\.0\.subjects: list exact subjects, or "\*" alone/,
    ],
    [
      'a resource this server does not serve',
      { workload: { workload_issuers: [{ ...workload, resource: 'https://elsewhere.example/mcp' }] } },
      /workload_issuers\.0\.resource: https:\/\/elsewhere\.example\/mcp is not a resource of this server/,
    ],
    [
      'a scope the resource lacks',
      { workload: { workload_issuers: [{ ...workload, scopes: ['mcp:tools', 'payroll:admin'] }] } },
      /workload_issuers\.0\.scopes: payroll:admin not among the scopes/,
    ],
    [
      'a client holding the grant that no file names',
      { enterprise: { enterprise_idps: [idp] } },
      /CLIENTS_FILE: client public-app: grant_types lists urn:ietf:params:oauth:grant-type:jwt-bearer, but no entry/,
    ],
  ])('stops start-up on %s, naming the file and the path', async (_name, files, message) => {
    await expect(load(files)).rejects.toThrow(message);
  });

  it('pnpm start’s files trust dev-idp, at its published keys, for the client dev-idp names, at the issuer dev-idp issues for', async () => {
    const root = resolve(import.meta.dirname, '..', '..');
    const config = loadConfig({
      IDP_CLIENT_SECRET: 'x',
      CLIENTS_FILE: resolve(root, 'auth-server', 'clients.yaml'),
      ENTERPRISE_IDPS_FILE: resolve(root, 'auth-server', 'enterprise-idps.yaml'),
    });
    const staticClients = await loadStaticClients(config, {
      RESOURCE_SERVER_CLIENT_SECRET: 'resource-server-secret',
      ENTERPRISE_CLIENT_SECRET: 'enterprise-secret',
    });
    const issuers = await loadAssertionIssuers(config, staticClients, await loadResources(config));
    const devIdp = loadDevIdpConfig({});
    const dex = await loadDexConfig(devIdp.dexConfigPath, { IDP_CLIENT_SECRET: 'x' });
    expect(devIdp.idJag.audience).toBe(config.issuer);
    expect(issuers).toEqual({
      enterpriseIdps: [{ issuer: dex.issuer, jwksUri: `${dex.issuer}/keys`, clients: Object.values(devIdp.idJag.clients) }],
      workloadIssuers: [],
    });
  });

  it('lets a public CLIENTS_FILE client hold the jwt-bearer grant, and still no grant without a user besides it', async () => {
    const file = join(dir, 'public-machine.json');
    await writeFile(
      file,
      JSON.stringify({ clients: [{ client_id: 'p', token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER, 'client_credentials'] }] }),
    );
    await expect(loadStaticClients(loadConfig({ IDP_CLIENT_SECRET: 'x', CLIENTS_FILE: file }))).rejects.toThrow(/grant_types client_credentials need/);
  });
});
