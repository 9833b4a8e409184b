/**
 * private_key_jwt (RFC 7523 §2.2, OIDC Core §9): a client proves itself with a short JWT
 * signed by its private key; the server holds only public keys — inline in CLIENTS_FILE, at
 * an operator's jwks_uri (fetched without the address guard, loopback included), in a Client
 * ID Metadata Document (jwks, or a jwks_uri fetched through the guard) or a DCR registration
 * (jwks only). Assertions must name this issuer as aud, live at most 5 minutes, be signed
 * with an asymmetric algorithm and be used once — across instances sharing Redis or a SQLite
 * file, even when sent to both at the same moment. Each refusal is 401 invalid_client with
 * its reason, and no assertion is ever logged. A CLIENTS_FILE with private key material
 * stops start-up.
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { loadStaticClients } from '../src/registry.ts';
import { startDocumentServer, type DocumentServer } from '../../test-support/https-document-server.ts';
import { authorizationUrl, authorizeInBrowser, pkce, registerClient } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, freePort, startStack, type Stack } from '../../test-support/stack.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const redirectUri = 'http://127.0.0.1:8976/callback';

interface SigningKey {
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
  alg: string;
  kid: string;
}

async function signingKey(alg: 'ES256' | 'PS256' | 'EdDSA', kid = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' }, alg, kid };
}

/** Every assertion this file sends: none of them may appear in the auth server's log. */
const sent: string[] = [];

/** A client assertion for `clientId`: iss = sub = clientId, aud = `audience`, one minute, a fresh jti. `undefined` drops a claim. */
async function assertion(key: SigningKey, clientId: string, audience: string, claims: Partial<Record<keyof JWTPayload, unknown>> = {}, alg = key.alg) {
  const now = Math.floor(Date.now() / 1000);
  const payload = Object.fromEntries(
    Object.entries({ iss: clientId, sub: clientId, aud: audience, iat: now, exp: now + 60, jti: randomUUID(), ...claims }).filter(
      ([, value]) => value !== undefined,
    ),
  );
  const jwt = await new SignJWT(payload).setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  sent.push(jwt);
  return jwt;
}

async function post(url: string, clientAssertion: string, params: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ ...params, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }),
  });
  // Revocation answers 200 with an empty body.
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** A local JWKS endpoint, as an operator's key service on the private network would be; counts requests. */
async function startKeyService(keys: () => JWK[]) {
  let requests = 0;
  const server: Server = createServer((request, response) => {
    requests++;
    if (request.url !== '/jwks.json') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify({ keys: keys() }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    requests: () => requests,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

let reportSigner: SigningKey; // CLIENTS_FILE, inline jwks
let introspector: SigningKey; // CLIENTS_FILE, inline jwks, may introspect
let keyedByUrl: SigningKey; // CLIENTS_FILE, jwks_uri
let documentKey: SigningKey; // Client ID Metadata Documents, DCR
let stranger: SigningKey; // registered nowhere
let keyService: Awaited<ReturnType<typeof startKeyService>>;
let documents: DocumentServer;
let clientsFile: string;
let stack: Stack; // Redis (the default), CIMD_ALLOW_LOOPBACK=true, log captured
const logLines: string[] = [];
const MACHINE_SECRET = 'a-secret-client-secret-0123456789';

beforeAll(async () => {
  [reportSigner, introspector, keyedByUrl, documentKey, stranger] = await Promise.all([
    signingKey('ES256'),
    signingKey('ES256'),
    signingKey('PS256'),
    signingKey('EdDSA'),
    signingKey('ES256'),
  ]);
  [keyService, documents] = await Promise.all([startKeyService(() => [keyedByUrl.publicJwk]), startDocumentServer()]);
  const dir = await mkdtemp(join(tmpdir(), 'private-key-jwt-'));
  clientsFile = join(dir, 'clients.json');
  await writeFile(
    clientsFile,
    JSON.stringify({
      clients: [
        {
          client_id: 'report-signer',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [reportSigner.publicJwk] },
          grant_types: ['client_credentials'],
        },
        { client_id: 'keyed-by-url', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: keyService.url, grant_types: ['client_credentials'] },
        {
          client_id: 'signed-introspector',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [introspector.publicJwk] },
          grant_types: [],
          introspection: true,
        },
        { client_id: 'secret-machine', client_secret: MACHINE_SECRET, grant_types: ['client_credentials'] },
      ],
    }),
  );
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  stack = await startStack({
    authServerEnv: { CLIENTS_FILE: clientsFile, CIMD_ALLOW_LOOPBACK: 'true', RATE_LIMIT_REGISTRATION: '1000' },
    cimdCa: documents.ca,
    authServerLogger: logger,
    extraResourcePaths: ['/reports'],
    extraResourceFormat: 'opaque',
  });
});
afterAll(async () => {
  await Promise.allSettled([stack?.close(), documents?.close(), keyService?.close()]);
});

/** client_credentials at the token endpoint of `at` (an instance's base URL), for the MCP resource unless told. */
const machineToken = (at: string, jwt: string, resource = stack.mcpUrl) =>
  post(`${at}/token`, jwt, { grant_type: 'client_credentials', resource, scope: 'mcp:tools' });

describe('the authorization server metadata', () => {
  it('lists private_key_jwt and only asymmetric assertion algorithms', async () => {
    const metadata = (await (await fetch(`${stack.authServerIssuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, string[]>;
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['private_key_jwt', 'client_secret_basic', 'none']));
    expect(metadata.token_endpoint_auth_methods_supported).not.toContain('client_secret_jwt');
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(['ES256', 'ES384', 'PS256', 'PS384', 'RS256', 'Ed25519', 'EdDSA']);
  });
});

describe('a CLIENTS_FILE client with inline public keys', () => {
  it('gets a client_credentials token, bound to the resource, with no secret', async () => {
    const answer = await machineToken(stack.authServerIssuer, await assertion(reportSigner, 'report-signer', stack.authServerIssuer));
    expect(answer.status).toBe(200);
    const { payload } = await jwtVerify(String(answer.body.access_token), createRemoteJWKSet(new URL(`${stack.authServerIssuer}/jwks`)), {
      issuer: stack.authServerIssuer,
      audience: stack.mcpUrl,
    });
    expect(payload.client_id).toBe('report-signer');
    expect(payload.scope).toBe('mcp:tools');
  });

  it('introspects with private_key_jwt too (introspection and revocation share client authentication)', async () => {
    // An opaque token: JWT access tokens are verified locally, not introspected.
    const opaque = stack.extraResources[0]!;
    const token = await machineToken(stack.authServerIssuer, await assertion(reportSigner, 'report-signer', stack.authServerIssuer), opaque);
    expect(token.status).toBe(200);
    const introspection = await post(
      `${stack.authServerIssuer}/token/introspection`,
      await assertion(introspector, 'signed-introspector', stack.authServerIssuer),
      {
        token: String(token.body.access_token),
      },
    );
    expect(introspection.status).toBe(200);
    expect(introspection.body).toMatchObject({ active: true, client_id: 'report-signer', aud: opaque });
  });
});

describe('refusals: 401 invalid_client, with the reason', () => {
  const issuer = () => stack.authServerIssuer;
  it.each<[string, () => Promise<string>, RegExp]>([
    ['the token endpoint URL as audience', () => assertion(reportSigner, 'report-signer', `${issuer()}/token`), /aud must be this server's issuer identifier/],
    ['another server as audience', () => assertion(reportSigner, 'report-signer', 'https://other-as.example'), /aud must be this server's issuer identifier/],
    [
      'the issuer inside an audience list',
      () => assertion(reportSigner, 'report-signer', issuer(), { aud: [issuer(), 'https://other-as.example'] }),
      /as a single string/,
    ],
    [
      'an expired assertion',
      () => assertion(reportSigner, 'report-signer', issuer(), { iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 }),
      /has expired/,
    ],
    [
      'an assertion valid for an hour',
      () => assertion(reportSigner, 'report-signer', issuer(), { exp: Math.floor(Date.now() / 1000) + 3600 }),
      /at most 300 seconds/,
    ],
    ['no exp', () => assertion(reportSigner, 'report-signer', issuer(), { exp: undefined }), /no exp/],
    ['no jti', () => assertion(reportSigner, 'report-signer', issuer(), { jti: undefined }), /no jti/],
    ['iss other than sub', () => assertion(reportSigner, 'report-signer', issuer(), { iss: 'someone-else' }), /iss must be the client_id, equal to its sub/],
    ['a key the client never registered', () => assertion(stranger, 'report-signer', issuer()), /signature does not verify/],
    [
      'a bad signature under the registered kid',
      () => assertion({ ...stranger, kid: reportSigner.kid }, 'report-signer', issuer()),
      /signature does not verify/,
    ],
    [
      'an HMAC (HS256) assertion',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        const jwt = await new SignJWT({ iss: 'report-signer', sub: 'report-signer', aud: issuer(), exp: now + 60, jti: randomUUID() })
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode('a shared secret that is long enough'));
        sent.push(jwt);
        return jwt;
      },
      /alg is not accepted.*HMAC/,
    ],
    [
      'an assertion for a client that authenticates with a secret',
      () => assertion(reportSigner, 'secret-machine', issuer()),
      /does not authenticate with private_key_jwt/,
    ],
  ])('refuses %s', async (_name, make, reason) => {
    const answer = await machineToken(stack.authServerIssuer, await make());
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
    expect(String(answer.body.error_description)).toMatch(reason);
    expect(answer.body.access_token).toBeUndefined();
  });

  it('refuses an assertion used a second time', async () => {
    const jwt = await assertion(reportSigner, 'report-signer', stack.authServerIssuer);
    expect((await machineToken(stack.authServerIssuer, jwt)).status).toBe(200);
    const again = await machineToken(stack.authServerIssuer, jwt);
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/already used/) });
  });
});

describe('Client ID Metadata Document clients', () => {
  function signedDocument(path: string, overrides: Record<string, unknown> = {}) {
    const clientId = `${documents.origin}${path}`;
    documents.documents.set(path, {
      body: {
        client_id: clientId,
        client_name: 'Signed CIMD App',
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [documentKey.publicJwk] },
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        ...overrides,
      },
    });
    return clientId;
  }

  it('authenticate the code exchange and the refresh with the keys in their document', async () => {
    const clientId = signedDocument('/clients/signed.json');
    const { verifier, challenge } = pkce();
    const url = authorizationUrl(stack.authServerIssuer, {
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'mcp:tools',
      resource: stack.mcpUrl,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: randomUUID(),
    });
    const { callback } = await authorizeInBrowser(new ScriptedBrowser(), url, { redirectUri, user: DEMO_USERS.alice });
    const tokens = await post(`${stack.authServerIssuer}/token`, await assertion(documentKey, clientId, stack.authServerIssuer), {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      resource: stack.mcpUrl,
    });
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(String(tokens.body.access_token), createRemoteJWKSet(new URL(`${stack.authServerIssuer}/jwks`)), {
      audience: stack.mcpUrl,
    });
    expect(payload.client_id).toBe(clientId);

    const refreshed = await post(`${stack.authServerIssuer}/token`, await assertion(documentKey, clientId, stack.authServerIssuer), {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.body.refresh_token),
    });
    expect(refreshed.status).toBe(200);
  });

  it('refuses an assertion that the document’s keys do not verify', async () => {
    const clientId = signedDocument('/clients/other-keys.json');
    const answer = await post(`${stack.authServerIssuer}/token`, await assertion(stranger, clientId, stack.authServerIssuer), {
      grant_type: 'authorization_code',
      code: 'not-a-code',
      redirect_uri: redirectUri,
      code_verifier: pkce().verifier,
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/signature does not verify/) });
  });

  it('fetch a document’s jwks_uri through the address guard', async () => {
    documents.documents.set('/clients/keys.json', { body: { keys: [documentKey.publicJwk] } });
    const clientId = signedDocument('/clients/by-url.json', { jwks: undefined, jwks_uri: `${documents.origin}/clients/keys.json` });
    const before = documents.requests.filter((path) => path === '/clients/keys.json').length;
    // Client authentication passes (the keys were fetched); the made-up code is then refused.
    const answer = await post(`${stack.authServerIssuer}/token`, await assertion(documentKey, clientId, stack.authServerIssuer), {
      grant_type: 'authorization_code',
      code: 'not-a-code',
      redirect_uri: redirectUri,
      code_verifier: pkce().verifier,
    });
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(documents.requests.filter((path) => path === '/clients/keys.json').length).toBe(before + 1);

    const privateUrl = signedDocument('/clients/private-keys.json', { jwks: undefined, jwks_uri: 'https://10.0.0.7/jwks.json' });
    const refused = await post(`${stack.authServerIssuer}/token`, await assertion(documentKey, privateUrl, stack.authServerIssuer), {
      grant_type: 'authorization_code',
      code: 'not-a-code',
      redirect_uri: redirectUri,
      code_verifier: pkce().verifier,
    });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/could not be fetched from its jwks_uri/) });
  });

  it('still get no client_credentials grant', async () => {
    const clientId = signedDocument('/clients/signed-machine.json', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const answer = await machineToken(stack.authServerIssuer, await assertion(documentKey, clientId, stack.authServerIssuer));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/client_credentials/) });
  });
});

describe('self-registered (DCR) clients', () => {
  it('register inline public keys with private_key_jwt, get no secret, and authenticate with them', async () => {
    const registered = await registerClient(stack.authServerIssuer, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [documentKey.publicJwk] } });
    expect(registered.status).toBe(201);
    expect(registered.body.client_secret).toBeUndefined();
    expect(registered.body.grant_types).toEqual(['authorization_code', 'refresh_token']);
    const clientId = registered.body.client_id;
    const revocation = `${stack.authServerIssuer}/token/revocation`;
    expect((await post(revocation, await assertion(documentKey, clientId, stack.authServerIssuer), { token: 'nothing-to-revoke' })).status).toBe(200);
    const refused = await post(revocation, await assertion(stranger, clientId, stack.authServerIssuer), { token: 'nothing-to-revoke' });
    expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_client', error_description: expect.stringMatching(/signature does not verify/) } });
  });

  it('may not register a jwks_uri', async () => {
    const registered = await registerClient(stack.authServerIssuer, {
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: `${documents.origin}/clients/keys.json`,
    });
    expect(registered.status).toBe(400);
    expect(registered.body).toMatchObject({
      error: 'invalid_client_metadata',
      error_description: expect.stringMatching(/jwks_uri.*register the public keys inline/),
    });
  });
});

describe.each(['redis', 'sqlite'] as const)('two instances sharing one %s store', (storage) => {
  let own: Stack | undefined;
  let first: string;
  let second: string;
  let mcpUrl: string;
  beforeAll(async () => {
    own = storage === 'redis' ? undefined : await startStack({ authServerStorage: storage, authServerEnv: { CLIENTS_FILE: clientsFile } });
    first = (own ?? stack).authServerIssuer;
    mcpUrl = (own ?? stack).mcpUrl;
    second = await (own ?? stack).startAuthServerReplica();
  });
  afterAll(async () => {
    await own?.close();
  });

  it('the second refuses the assertion the first accepted', async () => {
    const jwt = await assertion(reportSigner, 'report-signer', first);
    expect((await machineToken(first, jwt, mcpUrl)).status).toBe(200);
    const replayed = await machineToken(second, jwt, mcpUrl);
    expect(replayed).toMatchObject({ status: 401, body: { error: 'invalid_client', error_description: expect.stringMatching(/already used/) } });
  });

  it('accept an assertion sent to both at the same moment exactly once', async () => {
    for (let round = 0; round < 3; round++) {
      const jwt = await assertion(reportSigner, 'report-signer', first);
      const answers = await Promise.all([first, second, first, second, first, second].map((at) => machineToken(at, jwt, mcpUrl)));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
    }
  });
});

describe('an operator’s jwks_uri on the private network', () => {
  let memory: Stack; // CIMD_ALLOW_LOOPBACK off: the address guard refuses loopback for client-chosen URLs
  let metricsUrl: string;
  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    memory = await startStack({ authServerStorage: 'memory', authServerEnv: { CLIENTS_FILE: clientsFile, METRICS: 'true', METRICS_PORT: String(port) } });
  });
  afterAll(() => memory?.close());

  it('is fetched once for as long as its Cache-Control allows, not once per request', async () => {
    const before = keyService.requests();
    for (let request = 0; request < 3; request++) {
      const answer = await machineToken(memory.authServerIssuer, await assertion(keyedByUrl, 'keyed-by-url', memory.authServerIssuer), memory.mcpUrl);
      expect(answer.status).toBe(200);
    }
    // A flood of assertions under unknown keys does not make the server refetch either.
    const unknown = await machineToken(memory.authServerIssuer, await assertion(stranger, 'keyed-by-url', memory.authServerIssuer), memory.mcpUrl);
    expect(unknown).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(keyService.requests() - before).toBe(1);
    // …and a key set is not a Client ID Metadata Document in the metrics.
    expect(await (await fetch(metricsUrl)).text()).not.toMatch(/auth_server_client_registrations_total\{kind="cimd",outcome="fetched"\} [1-9]/);
  });

  it('refuses a replay on the memory store too', async () => {
    const jwt = await assertion(keyedByUrl, 'keyed-by-url', memory.authServerIssuer);
    expect((await machineToken(memory.authServerIssuer, jwt, memory.mcpUrl)).status).toBe(200);
    expect((await machineToken(memory.authServerIssuer, jwt, memory.mcpUrl)).status).toBe(401);
  });
});

describe('a CLIENTS_FILE with key problems', () => {
  async function clientsFileWith(client: Record<string, unknown>) {
    const file = join(await mkdtemp(join(tmpdir(), 'bad-keys-')), 'clients.json');
    await writeFile(
      file,
      JSON.stringify({
        clients: [{ client_id: 'leaky-signer', token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], ...client }],
      }),
    );
    return file;
  }

  it('stops start-up when it holds a private key, naming the client and never the key', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const file = await clientsFileWith({ jwks: { keys: [privateJwk] } });
    const refusal = loadStaticClients(loadConfig({ IDP_CLIENT_SECRET: 'x', CLIENTS_FILE: file }));
    await expect(refusal).rejects.toBeInstanceOf(ConfigError);
    await expect(refusal).rejects.toThrow(/client leaky-signer: jwks\.keys\[0\] holds private key material \(d\)/);
    await expect(refusal).rejects.not.toThrow(privateJwk.d!);

    // The server itself: one line on stderr and exit status 2, before it listens.
    const run = promisify(execFile)(process.execPath, [resolve(import.meta.dirname, '../src/main.ts')], {
      env: { ...process.env, IDP_CLIENT_SECRET: 'x', CLIENTS_FILE: file, STORE: 'memory', PORT: '0', KEYS_FILE: join(dirname(file), 'keys.json') },
    });
    const failure = (await run.then(
      () => undefined,
      (error: unknown) => error,
    )) as { code?: number; stderr?: string } | undefined;
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/CLIENTS_FILE: .*client leaky-signer: jwks\.keys\[0\] holds private key material/);
    expect(failure?.stderr).not.toContain(privateJwk.d!);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no keys', {}, /exactly one of jwks or jwks_uri/],
    [
      'both jwks and jwks_uri',
      { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] }, jwks_uri: 'https://keys.example/jwks' },
      /exactly one of jwks or jwks_uri/,
    ],
    ['a secret besides the keys', { client_secret: MACHINE_SECRET, jwks_uri: 'https://keys.example/jwks' }, /has no secret/],
    ['a symmetric key', { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /private key material \(k\)/],
    ['a key that is not one', { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] } }, /not a valid EC public key/],
  ])('refuses %s', async (_name, client, problem) => {
    const file = await clientsFileWith(client);
    await expect(loadStaticClients(loadConfig({ IDP_CLIENT_SECRET: 'x', CLIENTS_FILE: file }))).rejects.toThrow(problem);
  });
});

describe('the log', () => {
  it('never contains an assertion', () => {
    expect(sent.length).toBeGreaterThan(20);
    const log = logLines.join('');
    expect(log).toContain('request refused'); // the refusals above were logged…
    for (const jwt of sent) expect(log).not.toContain(jwt.split('.')[2]); // …without the credential
  });
});
