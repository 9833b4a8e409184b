/**
 * What browsers, operators and key rotation see: CORS where browser clients need it and
 * nowhere else, health and readiness, configuration errors that name the variable, secure
 * cookies behind a TLS proxy, logs without secrets, and a persisted, rotatable key set.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startAuthServer } from '../src/server.ts';
import { obtainAccessToken, registerClient } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, freePort, startStack, type Stack } from '../../test-support/stack.ts';

const run = promisify(execFile);
const logLines: string[] = [];
const capture = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});

let stack: Stack;
let keysDir: string;

beforeAll(async () => {
  keysDir = await mkdtemp(join(tmpdir(), 'keys-'));
  stack = await startStack({
    authServerEnv: { KEYS_FILE: join(keysDir, 'keys.json') },
    authServerLogger: pino({ level: 'debug' }, capture),
  });
});
afterAll(() => stack?.close());

describe('CORS', () => {
  it.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/jwks'])('lets any origin read %s', async (path) => {
    const response = await fetch(`${stack.authServerIssuer}${path}`, { headers: { origin: 'http://localhost:6274' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
  });

  it('answers registration preflights and registrations from a browser', async () => {
    const preflight = await fetch(`${stack.authServerIssuer}/reg`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    // No cookies are involved, so any origin may register (the rate limit still applies).
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('content-type');
    const registration = await fetch(`${stack.authServerIssuer}/reg`, {
      method: 'POST',
      headers: { origin: 'http://localhost:6274', 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none' }),
    });
    expect(registration.status).toBe(201);
    expect(registration.headers.get('access-control-allow-origin')).toBe('*');
  });

  it.each(['/token', '/token/revocation', '/token/introspection'])('answers %s preflights', async (path) => {
    const preflight = await fetch(`${stack.authServerIssuer}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
  });

  it('lets a browser client call the token endpoint from its own origin only', async () => {
    const { body: client } = await registerClient(stack.authServerIssuer, { redirect_uris: ['http://localhost:6274/oauth/callback'], application_type: 'web' });
    const tokenFrom = (origin: string) =>
      fetch(`${stack.authServerIssuer}/token`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'unknown', client_id: client.client_id }),
      });
    expect((await tokenFrom('http://localhost:6274')).headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect((await tokenFrom('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends no CORS headers on the interaction pages', async () => {
    const response = await fetch(`${stack.authServerIssuer}/interaction/some-uid`, { headers: { origin: 'http://localhost:6274' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('health', () => {
  it('is live and ready when storage and the IdP answer', async () => {
    expect((await fetch(`${stack.authServerIssuer}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.authServerIssuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', storage: { kind: 'redis', ok: true }, upstreamIdp: { ok: true } });
  });

  it('is live but not ready while the IdP is unreachable', async () => {
    const port = await freePort();
    const lonely = await startAuthServer(
      loadConfig({
        ISSUER: `http://127.0.0.1:${port}`,
        PORT: String(port),
        IDP_ISSUER: `http://127.0.0.1:${await freePort()}/dex`,
        IDP_CLIENT_SECRET: 'x',
        KEYS_FILE: join(keysDir, 'lonely.json'),
        STORE: 'memory',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    try {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { upstreamIdp: { ok: boolean } }).upstreamIdp.ok).toBe(false);
    } finally {
      await lonely.close();
    }
  });
});

describe('configuration errors', () => {
  it.each([
    [{}, 'IDP_CLIENT_SECRET'],
    [{ IDP_CLIENT_SECRET: 'x', PORT: 'eighty' }, 'PORT'],
    [{ IDP_CLIENT_SECRET: 'x', REDIS_URL: 'http://redis:6379' }, 'REDIS_URL'],
    [{ IDP_CLIENT_SECRET: 'x', ISSUER: 'not a url' }, 'ISSUER'],
    [{ IDP_CLIENT_SECRET: 'x', RESOURCE_DEFAULT_SCOPES: 'admin' }, 'RESOURCE_DEFAULT_SCOPES'],
  ])('names the bad variable (%o)', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });

  it('stops the process with the message and no stack trace', async () => {
    const failure = await run(process.execPath, [join(import.meta.dirname, '..', 'src', 'main.ts')], { env: { PATH: process.env.PATH, PORT: 'eighty' } }).catch(
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect('code' in failure && failure.code).toBe(2);
    expect((failure as { stderr: string }).stderr).toContain('PORT');
    expect((failure as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
  });

  it('treats an empty variable as unset: PORT= listens on the issuer port, not a random one', () => {
    expect(loadConfig({ IDP_CLIENT_SECRET: 'x', ISSUER: 'http://localhost:4123', PORT: '' }).port).toBe(4123);
  });

  it.each([
    ['a RESOURCES_FILE that does not exist', (dir: string) => ({ RESOURCES_FILE: join(dir, 'missing.yaml') }), 'RESOURCES_FILE'],
    ['a CLIENTS_FILE that does not exist', (dir: string) => ({ CLIENTS_FILE: join(dir, 'missing.yaml') }), 'CLIENTS_FILE'],
    ['a KEYS_FILE that is a directory', (dir: string) => ({ KEYS_FILE: dir }), 'KEYS_FILE'],
  ])('stops at %s with one line naming it, exit 2', async (_name, env, variable) => {
    const dir = await mkdtemp(join(tmpdir(), 'startup-'));
    const failure = await run(process.execPath, [join(import.meta.dirname, '..', 'src', 'main.ts')], {
      env: {
        PATH: process.env.PATH,
        IDP_CLIENT_SECRET: 'x',
        STORE: 'memory',
        PORT: String(await freePort()),
        KEYS_FILE: join(dir, 'keys.json'),
        LOG_LEVEL: 'silent',
        ...env(dir),
      },
    }).catch((error: unknown) => error as { code: number; stderr: string });
    expect('code' in failure && failure.code).toBe(2);
    const stderr = (failure as { stderr: string }).stderr.trim();
    expect(stderr).toContain(variable);
    expect(stderr.split('\n')).toHaveLength(1);
  });
});

describe('secure cookies behind a TLS-terminating proxy', () => {
  it('marks cookies Secure when the issuer is https and the proxy says so', async () => {
    const port = await freePort();
    const behindProxy = await startAuthServer(
      loadConfig({
        ISSUER: 'https://auth.example.test',
        PORT: String(port),
        TRUST_PROXY: 'true',
        IDP_CLIENT_SECRET: 'x',
        IDP_ISSUER: stack.idpIssuer,
        KEYS_FILE: join(keysDir, 'proxy.json'),
        RESOURCE_URL: stack.mcpUrl,
        STORE: 'memory',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const { body: client } = await registerClient(`http://127.0.0.1:${port}`);
      const response = await fetch(
        `http://127.0.0.1:${port}/auth?${new URLSearchParams({ client_id: client.client_id, response_type: 'code', redirect_uri: 'http://127.0.0.1:8976/callback', scope: 'mcp:tools', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })}`,
        { redirect: 'manual', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.test' } },
      );
      expect(response.status).toBe(303);
      const cookies = response.headers.getSetCookie();
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) expect(cookie.toLowerCase()).toContain('; secure');
    } finally {
      await behindProxy.close();
    }
  });
});

describe('logs', () => {
  it('hold no token, code, secret or cookie after a full login', async () => {
    const { tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
    const logs = logLines.join('');
    expect(logs).toContain('user signed in through the upstream IdP');
    expect(logs).not.toContain(tokens.access_token);
    expect(logs).not.toContain(tokens.refresh_token!);
    expect(logs).not.toMatch(/eyJ[\w-]{10,}\.eyJ/);
    expect(logs).not.toMatch(/"(code|code_verifier|client_secret|password|cookie)":"[^"[]/i);
  });
});

describe('key set', () => {
  it('is written once with mode 0600, and rotates with the keys CLI', async () => {
    const keysFile = join(keysDir, 'keys.json');
    expect((await stat(keysFile)).mode & 0o777).toBe(0o600);
    const original = JSON.parse(await readFile(keysFile, 'utf8')) as { signingKeys: { kid: string }[] };
    expect(original.signingKeys).toHaveLength(1);
    const oldKid = original.signingKeys[0]!.kid;

    const cli = join(import.meta.dirname, '..', 'src', 'admin', 'cli.ts');
    const keysCli = (command: string, ...args: string[]) =>
      run(process.execPath, [cli, 'keys', command, ...args], { env: { ...process.env, KEYS_FILE: keysFile } });
    const signingKid = async () =>
      decodeProtectedHeader((await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob })).tokens.access_token)
        .kid;

    // Stage 1: the new key is published, the old one still signs.
    const rotated = await keysCli('rotate');
    expect(rotated.stdout).toMatch(new RegExp(`^signs\\s+${oldKid} ES256$`, 'm'));
    await stack.restartAuthServer();
    const { keys } = (await (await fetch(`${stack.authServerIssuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(keys).toHaveLength(2);
    const newKid = keys.map((key) => key.kid).find((kid) => kid !== oldKid);
    expect(await signingKid()).toBe(oldKid);

    // Stage 2: the new key signs, the old one still verifies.
    await keysCli('promote');
    await stack.restartAuthServer();
    expect(await signingKid()).toBe(newKid);
    expect(((await (await fetch(`${stack.authServerIssuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid)).toContain(oldKid);

    // Stage 3: only the signing key is left.
    await keysCli('retire', '1');
    await stack.restartAuthServer();
    const after = (await (await fetch(`${stack.authServerIssuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(after.keys.map((key) => key.kid)).toEqual([newKid]);
  });
});
