/**
 * --client-key: private_key_jwt client authentication (RFC 7523 §2.2) for a pre-registered
 * client, end to end — the real CLI as a child process against a stand-in authorization
 * server (fixtures/stand-in-assertion-servers.ts) that verifies every assertion with the
 * client's public key, in front of a fake MCP server. The test verifies the recorded
 * assertions itself too: iss = sub = client_id, aud = the issuer, a short exp, a new jti.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { browse, runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';
import { startFakeAs, startFakeRs } from './fixtures/servers.ts';
import { startStandInAs } from './fixtures/stand-in-assertion-servers.ts';
import type { StandInAs } from './fixtures/stand-in-assertion-servers.ts';

const CLIENT = 'm2m-client';
const closers: { close(): Promise<void> }[] = [];
let dir: string;
let env: Record<string, string>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-client-key-'));
  env = { MCP_CLIENT_CONFIG_DIR: join(dir, 'config') };
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

interface KeyCase {
  name: string;
  /** The file's content. */
  text: string;
  publicJwk: JWK;
  /** Every piece of the private key that must never be printed. */
  secrets: string[];
  alg: string;
  flags?: string[];
}

function publicJwk(key: KeyObject): JWK {
  return key.export({ format: 'jwk' });
}

/** The base64 lines of a PEM document (and the private JWK members) that must not be printed. */
function pemSecrets(pem: string, privateKey: KeyObject): string[] {
  const lines = pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
  return [...lines, String((privateKey.export({ format: 'jwk' }) as JWK).d)];
}

function keyCases(): KeyCase[] {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPkcs8 = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sec1Pem = sec1.privateKey.export({ format: 'pem', type: 'sec1' }).toString();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPkcs1 = rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
  const ed = generateKeyPairSync('ed25519');
  const edJwk = ed.privateKey.export({ format: 'jwk' }) as JWK;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const p384Jwk = { ...(p384.privateKey.export({ format: 'jwk' }) as JWK), alg: 'ES384', kid: 'k1' };
  return [
    { name: 'EC P-256, PKCS#8 PEM', text: ecPkcs8, publicJwk: publicJwk(ec.publicKey), secrets: pemSecrets(ecPkcs8, ec.privateKey), alg: 'ES256' },
    {
      name: 'EC P-256, SEC1 "EC PRIVATE KEY"',
      text: sec1Pem,
      publicJwk: publicJwk(sec1.publicKey),
      secrets: pemSecrets(sec1Pem, sec1.privateKey),
      alg: 'ES256',
    },
    { name: 'RSA, PKCS#1 "RSA PRIVATE KEY"', text: rsaPkcs1, publicJwk: publicJwk(rsa.publicKey), secrets: pemSecrets(rsaPkcs1, rsa.privateKey), alg: 'RS256' },
    {
      name: 'RSA with --client-key-alg PS256',
      text: rsaPkcs1,
      publicJwk: publicJwk(rsa.publicKey),
      secrets: pemSecrets(rsaPkcs1, rsa.privateKey),
      alg: 'PS256',
      flags: ['--client-key-alg', 'PS256'],
    },
    { name: 'Ed25519 JWK', text: JSON.stringify(edJwk), publicJwk: publicJwk(ed.publicKey), secrets: [String(edJwk.d)], alg: 'EdDSA' },
    { name: 'EC P-384 JWK with its own alg', text: JSON.stringify(p384Jwk), publicJwk: publicJwk(p384.publicKey), secrets: [String(p384Jwk.d)], alg: 'ES384' },
  ];
}

async function keyFile(text: string, mode = 0o600): Promise<string> {
  const file = join(dir, `key-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, text, { mode });
  await chmod(file, mode);
  return file;
}

async function stack(publicJwk: JWK, expiresIn?: number): Promise<{ as: StandInAs; mcp: string }> {
  const as = await startStandInAs({ clients: { [CLIENT]: { publicJwk } }, ...(expiresIn !== undefined ? { expiresIn } : {}) });
  const rs = await startFakeRs(as);
  closers.push(rs, as);
  return { as, mcp: rs.resource };
}

/** Verifies a recorded client assertion with the public key, as the spec requires it to be. */
async function verifyAssertion(form: URLSearchParams, key: JWK, issuer: string, alg: string) {
  expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  const assertion = form.get('client_assertion') ?? '';
  expect(decodeProtectedHeader(assertion).alg).toBe(alg);
  const { payload } = await jwtVerify(assertion, await importJWK(key, alg), { issuer: CLIENT, subject: CLIENT, audience: issuer });
  expect(payload.aud).toBe(issuer); // one string: the issuer identifier, not the token endpoint
  expect(typeof payload.jti).toBe('string');
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
  expect(payload.exp! * 1000).toBeGreaterThan(Date.now());
  return payload;
}

function printed(run: CliRun): string {
  return run.stdout() + run.stderr();
}

describe('a machine client authenticating with its private key (stand-in authorization server)', () => {
  it.each(keyCases())('signs a fresh client assertion with the key ($name)', async (key) => {
    const { as, mcp } = await stack(key.publicJwk);
    const file = await keyFile(key.text);
    const run = runCli(['call', mcp, 'whoami', '--json', '--client-credentials', '--client-id', CLIENT, '--client-key', file, ...(key.flags ?? [])], env);
    expect(await run.exit, run.stdout() + run.stderr()).toBe(0);
    const [request] = as.tokenRequests();
    expect(request?.form.get('grant_type')).toBe('client_credentials');
    expect(request?.form.get('client_id')).toBe(CLIENT);
    expect(request?.form.get('resource')).toBe(mcp);
    expect(request?.headers.authorization).toBeUndefined();
    await verifyAssertion(request!.form, key.publicJwk, as.issuer, key.alg);
    const thumbprint = await calculateJwkThumbprint(key.publicJwk);
    expect(run.lines.find((l) => l['step'] === 'client_authentication')).toMatchObject({
      method: 'private_key_jwt',
      alg: key.alg,
      jkt: thumbprint,
      audience: as.issuer,
    });
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({ grantType: 'client_credentials', authMethod: 'private_key_jwt' });
    for (const secret of [...key.secrets, request!.form.get('client_assertion')!, ...as.secrets()]) expect(printed(run)).not.toContain(secret);
  });

  it('shows the method, algorithm and key thumbprint in the human trace, and never the key, with --verbose too', async () => {
    const [key] = keyCases();
    const { as, mcp } = await stack(key!.publicJwk);
    const file = await keyFile(key!.text);
    const run = runCli(['call', mcp, 'whoami', '--verbose', '--client-credentials', '--client-id', CLIENT, '--client-key', file], env);
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain(`private_key_jwt (ES256, key thumbprint ${await calculateJwkThumbprint(key!.publicJwk)})`);
    expect(run.stderr()).toContain('client_assertion=%5BREDACTED%5D');
    for (const secret of [...key!.secrets, as.tokenRequests()[0]!.form.get('client_assertion')!, ...as.secrets()]) expect(printed(run)).not.toContain(secret);
  });

  it('signs again from the stored key path when the token has expired: a new jti, without the flags', async () => {
    const [key] = keyCases();
    const { as, mcp } = await stack(key!.publicJwk, 1); // expires within the 30 s refresh margin: the next run asks again
    const file = await keyFile(key!.text);
    const first = runCli(['call', mcp, 'whoami', '--json', '--client-credentials', '--client-id', CLIENT, '--client-key', file], env);
    expect(await first.exit).toBe(0);
    const second = runCli(['call', mcp, 'whoami', '--json'], env);
    expect(await second.exit, second.stderr()).toBe(0);
    const [a, b] = as.tokenRequests();
    const one = await verifyAssertion(a!.form, key!.publicJwk, as.issuer, 'ES256');
    const two = await verifyAssertion(b!.form, key!.publicJwk, as.issuer, 'ES256');
    expect(two.jti).not.toBe(one.jti);
    expect(as.tokenRequests()).toHaveLength(2);
    // The store keeps where the key is, never the key.
    const files = await readdir(join(dir, 'config'));
    const stored = (await Promise.all(files.map((f) => readFile(join(dir, 'config', f), 'utf8')))).join('\n');
    expect(stored).toContain(file);
    for (const secret of key!.secrets) expect(stored).not.toContain(secret);
  });

  it('warns when other users can read the key file, and still signs with it', async () => {
    const [key] = keyCases();
    const { mcp } = await stack(key!.publicJwk);
    const file = await keyFile(key!.text, 0o644);
    const run = runCli(['call', mcp, 'whoami', '--client-credentials', '--client-id', CLIENT, '--client-key', file], env);
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toMatch(/WARNING: .* is readable by other users \(mode 0644\).*chmod 600/);
  });

  it('authenticates the code exchange and the refresh of a pre-registered browser client with the key', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const as = await startFakeAs({ expiresIn: 1, extraMetadata: { token_endpoint_auth_methods_supported: ['private_key_jwt'] } });
    const rs = await startFakeRs(as);
    closers.push(rs, as);
    const file = await keyFile(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    const login = runCli(['login', rs.resource, '--json', '--no-browser', '--client-id', CLIENT, '--client-key', file], env);
    const { authorizationUrl } = (await login.waitFor('authorizationUrl')) as { authorizationUrl: string };
    await browse(authorizationUrl);
    expect(await login.exit, login.stderr()).toBe(0);
    // The token expires at once: the next command refreshes, signing from the stored key path.
    const tools = runCli(['tools', rs.resource, '--json'], env);
    expect(await tools.exit, tools.stderr()).toBe(0);
    const forms = as.requests.filter((r) => r.path === '/token').map((r) => new URLSearchParams(r.body));
    expect(forms.map((f) => f.get('grant_type'))).toEqual(['authorization_code', 'refresh_token']);
    const jtis = [];
    for (const form of forms) jtis.push((await verifyAssertion(form, publicJwk(ec.publicKey), as.issuer, 'ES256')).jti);
    expect(new Set(jtis).size).toBe(2);
  });
});

describe('--client-key usage errors (exit 2, before any request)', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const cases: { name: string; content?: string; args?: (file: string) => string[]; env?: Record<string, string>; message: RegExp }[] = [
    { name: 'a missing file', args: () => ['--client-key', join(tmpdir(), 'no-such-key-file.pem')], message: /no such file/ },
    { name: 'a file that holds no key', content: 'not a key\n', message: /neither a JWK nor a PEM key/ },
    { name: 'a public key', content: ec.publicKey.export({ format: 'pem', type: 'spki' }).toString(), message: /without a private key/ },
    { name: 'a public JWK', content: JSON.stringify(ec.publicKey.export({ format: 'jwk' })), message: /a public key/ },
    {
      name: 'an encrypted key',
      content: ec.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pass' }).toString(),
      message: /encrypted private key/,
    },
    { name: 'a symmetric JWK', content: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ' }), message: /symmetric key/ },
    {
      name: 'an algorithm the key cannot sign',
      content: pkcs8,
      args: (f) => ['--client-key', f, '--client-key-alg', 'ES384'],
      message: /does not fit the key/,
    },
    { name: 'an unknown algorithm', content: pkcs8, args: (f) => ['--client-key', f, '--client-key-alg', 'HS256'], message: /--client-key-alg must be one of/ },
    { name: 'a key and a secret', content: pkcs8, env: { MCP_CLIENT_SECRET: 's3cret' }, message: /two ways to authenticate/ },
  ];
  it.each(cases)('refuses $name', async ({ content, args, env: extra, message }) => {
    const file = join(dir, 'key');
    if (content !== undefined) await writeFile(file, content, { mode: 0o600 });
    const run = runCli(
      ['call', 'http://127.0.0.1:9/mcp', 'whoami', '--json', '--client-credentials', '--client-id', CLIENT, ...(args ? args(file) : ['--client-key', file])],
      { ...env, ...extra },
    );
    expect(await run.exit).toBe(2);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', message: expect.stringMatching(message) });
    // Nothing was attempted: the port-9 MCP URL would have been "unreachable".
    expect(printed(run)).not.toContain('unreachable');
    if (content) for (const line of content.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(printed(run)).not.toContain(line);
  });

  it('refuses --client-key without --client-id', async () => {
    const run = runCli(['tools', 'http://127.0.0.1:9/mcp', '--client-key', join(dir, 'key')], env);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain('--client-key is the private key of a pre-registered client');
  });
});
