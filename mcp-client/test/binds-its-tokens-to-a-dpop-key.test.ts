/**
 * DPoP (RFC 9449) in the CLI against the real stack (dev-idp, auth-server, resource-server on
 * loopback, the real CLI as a child process): where the authorization server advertises DPoP
 * the CLI keeps one key pair for it in its 0600 store file, gets DPoP-bound tokens with a
 * proof at the code exchange and the refresh, and sends a fresh proof on every MCP request —
 * retrying once with the server's nonce where the AS or the resource server asks for one.
 * `--no-dpop` keeps Bearer tokens.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeInBrowser } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { runCli } from './fixtures/cli.ts';

const configDirs: string[] = [];
afterAll(() => Promise.all(configDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function loginWithCli(stack: Stack, extraArgs: string[] = []) {
  const configDir = await mkdtemp(join(tmpdir(), 'mcp-client-dpop-'));
  configDirs.push(configDir);
  const env = { MCP_CLIENT_CONFIG_DIR: configDir };
  const login = runCli(['login', stack.mcpUrl, '--no-browser', '--json', '--timeout', '60', ...extraArgs], env);
  const authorize = await login.waitFor('authorizationUrl');
  const browser = new ScriptedBrowser();
  const { callback } = await authorizeInBrowser(browser, String(authorize.authorizationUrl), {
    redirectUri: String(authorize.redirectUri),
    user: DEMO_USERS.alice,
  });
  expect((await browser.open(callback.href)).status).toBe(200);
  const code = await login.exit;
  expect(code, login.stderr()).toBe(0);
  return { env, login, configDir };
}

interface StoreFile {
  dpop_key?: { alg: string; thumbprint: string; private_jwk: Record<string, string> };
  resources: Record<string, { tokens: { access_token: string; token_type: string; refresh_token?: string; expires_at?: number } }>;
}

async function storeFile(configDir: string): Promise<{ path: string; file: StoreFile }> {
  const [name] = (await readdir(configDir)).filter((entry) => entry.endsWith('.json'));
  const path = join(configDir, name!);
  return { path, file: JSON.parse(await readFile(path, 'utf8')) as StoreFile };
}

function step(lines: Record<string, unknown>[], name: string): Record<string, unknown> | undefined {
  return lines.find((line) => line.step === name);
}

describe('against an authorization server that offers DPoP (the stack default)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ authServerStorage: 'memory' });
  });
  afterAll(() => stack?.close());

  it('ends login with a DPoP-bound token, its key only in the 0600 store file, and calls with proofs', async () => {
    const { env, login, configDir } = await loginWithCli(stack);
    const key = step(login.lines, 'dpop_key')!;
    expect(key).toMatchObject({ alg: 'ES256', created: true });
    const token = step(login.lines, 'token')!;
    expect(token).toMatchObject({ tokenType: 'DPoP', dpopJkt: key.jkt });
    expect(step(login.lines, 'mcp_connect')).toMatchObject({ authorized: true, dpopJkt: key.jkt });

    const { path, file } = await storeFile(configDir);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(file.dpop_key).toMatchObject({ alg: 'ES256', thumbprint: key.jkt });
    const entry = Object.values(file.resources)[0]!;
    expect(entry.tokens.token_type).toBe('DPoP');
    expect(decodeJwt(entry.tokens.access_token).cnf).toEqual({ jkt: key.jkt });
    // The private key is in the file and nowhere in what the CLI printed.
    const privateMember = file.dpop_key!.private_jwk.d!;
    expect(privateMember.length).toBeGreaterThan(20);
    expect(login.stdout() + login.stderr()).not.toContain(privateMember);

    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json'], env);
    expect(await call.exit, call.stderr()).toBe(0);
    expect(step(call.lines, 'dpop_key')).toMatchObject({ created: false, jkt: key.jkt });
    expect(call.lines.at(-1)!.structuredContent).toMatchObject({ email: 'alice@example.com' });

    // What a thief holding only the token gets: it does not work as a Bearer token.
    const stolen = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${entry.tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refreshes with a proof from the same key and keeps the token bound to it', async () => {
    const { env, configDir } = await loginWithCli(stack);
    const { path, file } = await storeFile(configDir);
    const entry = Object.values(file.resources)[0]!;
    expect(entry.tokens.refresh_token).toBeDefined();
    entry.tokens.expires_at = Date.now() - 60_000; // as if the access token had expired
    await writeFile(path, JSON.stringify(file), { mode: 0o600 });

    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json'], env);
    expect(await call.exit, call.stderr()).toBe(0);
    expect(step(call.lines, 'refresh')).toMatchObject({ refreshed: true, tokenType: 'DPoP', dpopJkt: file.dpop_key!.thumbprint });
    const after = Object.values((await storeFile(configDir)).file.resources)[0]!;
    expect(after.tokens.access_token).not.toBe(entry.tokens.access_token);
    expect(decodeJwt(after.tokens.access_token).cnf).toEqual({ jkt: file.dpop_key!.thumbprint });
  });

  it('keeps Bearer tokens with --no-dpop', async () => {
    const { login, configDir } = await loginWithCli(stack, ['--no-dpop']);
    expect(step(login.lines, 'dpop_key')).toBeUndefined();
    expect(step(login.lines, 'token')).toMatchObject({ tokenType: 'Bearer' });
    const { file } = await storeFile(configDir);
    expect(file.dpop_key).toBeUndefined();
    expect(decodeJwt(Object.values(file.resources)[0]!.tokens.access_token).cnf).toBeUndefined();
  });
});

describe('where the authorization server and the resource server require nonces', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      authServerStorage: 'memory',
      authServerEnv: { DPOP_NONCE_SECRET: randomBytes(32).toString('base64url') },
      resourceServerEnv: { DPOP: 'required', DPOP_NONCE_SECRET: randomBytes(32).toString('base64url') },
    });
  });
  afterAll(() => stack?.close());

  it('retries the token request and the MCP request once with the nonce each server sent', async () => {
    const { env, login } = await loginWithCli(stack, ['--verbose']);
    expect(step(login.lines, 'token')).toMatchObject({ tokenType: 'DPoP' });
    // The verbose dump shows both refusals the nonce retry answered (proof and token redacted).
    const dump = login.stderr();
    const asNonce = dump.indexOf('"error":"use_dpop_nonce","error_description":"nonce is required in the DPoP proof"');
    expect(asNonce).toBeGreaterThan(0);
    expect(dump.slice(asNonce)).toMatch(/^[^\n]*\n-> POST http:\/\/127\.0\.0\.1:\d+\/token\n/);
    const rsNonce = dump.indexOf('{"error":"use_dpop_nonce","error_description":"This resource requires a nonce in DPoP proofs');
    expect(rsNonce).toBeGreaterThan(asNonce);
    expect(dump.slice(rsNonce)).toMatch(/^[^\n]*\n-> POST http:\/\/127\.0\.0\.1:\d+\/mcp\n/);
    expect(dump).not.toMatch(/eyJ[\w-]+\.eyJ/); // neither token nor proof in the dump
    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json'], env);
    expect(await call.exit, call.stderr()).toBe(0);
    expect(call.lines.at(-1)!.structuredContent).toMatchObject({ email: 'alice@example.com' });
  });
});
