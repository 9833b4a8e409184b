/**
 * The default run keeps its state, end to end: dev-idp, and the auth server and the
 * resource server as real processes with the default store (no REDIS_URL, no STORE: a
 * SQLite file each). The real CLI logs in (scripted browser) and adds a note with step-up,
 * a web client is given consent; both servers are stopped as Ctrl-C stops them, and new
 * processes start on the same files. Then the CLI's stored refresh token refreshes,
 * notes_list shows the note, the DCR client is still registered, the web client is not
 * asked for consent again, the signing key is the same, and neither server warned about
 * losing state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEX_CONFIG } from '../../dev-idp/src/config.ts';
import { loadDexConfig } from '../../dev-idp/src/dex-config.ts';
import { startDevIdp, type DevIdp } from '../../dev-idp/src/server.ts';
import { runCli } from '../../mcp-client/test/fixtures/cli.ts';
import { authorizeClient, authorizeInBrowser, obtainAccessToken, pkce } from '../../test-support/oauth-flow.ts';
import { freePort } from '../../test-support/ports.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS } from '../../test-support/stack.ts';

const root = join(import.meta.dirname, '..', '..');
const WEB_REDIRECT = 'https://web-client.example.test/callback';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Service {
  child: ChildProcess;
  logs: LogLine[];
  /** Ctrl-C: SIGINT, as the terminal sends it to `pnpm start` and its children. */
  stop(): Promise<number | null>;
}

let dir: string;
let idp: DevIdp;
let authEnv: Record<string, string>;
let resourceEnv: Record<string, string>;
let issuer: string;
let mcpUrl: string;
const services: Service[] = [];

/** Starts `<name>/src/main.ts` with exactly `env`, resolved once it logs that it is ready. */
async function startService(name: 'auth-server' | 'resource-server', env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, [join(root, name, 'src', 'main.ts')], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  const service = {
    child,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await once(child, 'exit');
      }
      return child.exitCode;
    },
  };
  services.push(service);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as LogLine;
      logs.push(entry);
      if (entry.msg === `${name} ready`) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready:\n${stderr}`)));
  });
  return service;
}

async function startServers() {
  const auth = await startService('auth-server', authEnv);
  const resource = await startService('resource-server', resourceEnv);
  return { auth, resource };
}

async function jwksKids() {
  const { keys } = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  return keys.map((key) => key.kid);
}

/** The CLI's credentials file for this issuer (one per AS). */
async function cliStoreFile(configDir: string) {
  const [name] = (await readdir(configDir)).filter((file) => file.endsWith('.json'));
  return join(configDir, name!);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'default-store-restart-'));
  const clientSecret = randomBytes(24).toString('base64url');
  const [authPort, resourcePort] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${authPort}`;
  mcpUrl = `http://127.0.0.1:${resourcePort}/mcp`;
  idp = await startDevIdp({
    dex: await loadDexConfig(DEFAULT_DEX_CONFIG, { IDP_CLIENT_SECRET: clientSecret }),
    port: 0,
    redirectUris: { 'mcp-auth-server': [`${issuer}/upstream/callback`] },
    logger: pino({ level: 'silent' }),
  });
  // Neither REDIS_URL nor STORE: the default store. Only the files are moved out of the repository.
  authEnv = {
    ISSUER: issuer,
    PORT: String(authPort),
    IDP_ISSUER: idp.issuer,
    IDP_CLIENT_SECRET: clientSecret,
    RESOURCE_URL: mcpUrl,
    KEYS_FILE: join(dir, 'auth', 'keys.json'),
    SQLITE_PATH: join(dir, 'auth', 'auth-server.db'),
    LOG_LEVEL: 'info',
  };
  resourceEnv = {
    RESOURCE_URL: mcpUrl,
    PORT: String(resourcePort),
    AUTH_SERVER_ISSUER: issuer,
    SQLITE_PATH: join(dir, 'resource', 'notes.db'),
    LOG_LEVEL: 'info',
  };
});
afterAll(async () => {
  await Promise.allSettled(services.map((service) => service.stop()));
  await idp?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('pnpm start, log in, add a note, Ctrl-C, pnpm start', () => {
  it('keeps the CLI logged in, the note, the DCR client, the consent and the signing key', async () => {
    const first = await startServers();
    const configDir = join(dir, 'cli');
    const cliEnv = { MCP_CLIENT_CONFIG_DIR: configDir };
    const browser = new ScriptedBrowser();

    // The CLI logs in…
    const login = runCli(['login', mcpUrl, '--no-browser', '--json', '--timeout', '60'], cliEnv);
    const authorize = await login.waitFor('authorizationUrl');
    const { callback } = await authorizeInBrowser(browser, String(authorize.authorizationUrl), {
      redirectUri: String(authorize.redirectUri),
      user: DEMO_USERS.alice,
    });
    expect((await browser.open(callback.href)).status).toBe(200);
    expect(await login.exit).toBe(0);

    // …and adds a note, which needs notes:write: a step-up authorization.
    const add = runCli(['call', mcpUrl, 'notes_add', '{"text":"buy milk"}', '--no-browser', '--json', '--timeout', '60'], cliEnv);
    const stepUp = await add.waitFor('authorizationUrl');
    const { callback: stepUpCallback } = await authorizeInBrowser(browser, String(stepUp.authorizationUrl), {
      redirectUri: String(stepUp.redirectUri),
      user: DEMO_USERS.alice,
    });
    await browser.open(stepUpCallback.href);
    expect(await add.exit).toBe(0);
    expect(add.lines.map((line) => line.step)).toContain('step_up');
    const note = (add.lines.at(-1)!.structuredContent as { note: { id: string; text: string } }).note;
    expect(note.text).toBe('buy milk');

    // A web client, whose consent is remembered (its redirect is not loopback).
    const webBrowser = new ScriptedBrowser();
    const web = await obtainAccessToken({
      issuer,
      resource: mcpUrl,
      user: DEMO_USERS.alice,
      browser: webBrowser,
      clientMetadata: { application_type: 'web', redirect_uris: [WEB_REDIRECT] },
    });
    const kidsBefore = await jwksKids();
    const { client } = JSON.parse(await readFile(await cliStoreFile(configDir), 'utf8')) as { client: { client_id: string } };

    // Ctrl-C, then pnpm start again: new processes on the same files.
    expect(await first.auth.stop()).toBe(0);
    expect(await first.resource.stop()).toBe(0);
    const second = await startServers();

    // The start-up log says which store and which file, and nothing warns about lost state.
    expect(second.auth.logs.find((line) => line.msg === 'auth-server ready')).toMatchObject({ storage: 'sqlite', storageLocation: authEnv.SQLITE_PATH });
    expect(second.resource.logs.find((line) => line.msg === 'resource-server ready')).toMatchObject({
      notes: 'sqlite',
      notesLocation: resourceEnv.SQLITE_PATH,
    });
    const warnings = [...second.auth.logs, ...second.resource.logs].filter((line) => line.level >= 40).map((line) => line.msg);
    expect(warnings.filter((message) => /lost|in this process|memory/i.test(message))).toEqual([]);

    expect(await jwksKids()).toEqual(kidsBefore);

    // The CLI's access token is treated as expired (its clock moved), so it must refresh.
    const storeFile = await cliStoreFile(configDir);
    const stored = JSON.parse(await readFile(storeFile, 'utf8')) as { resources: Record<string, { tokens: { expires_at?: number } }> };
    for (const entry of Object.values(stored.resources)) entry.tokens.expires_at = 0;
    await writeFile(storeFile, JSON.stringify(stored));
    const list = runCli(['call', mcpUrl, 'notes_list', '--no-browser', '--json', '--timeout', '60'], cliEnv);
    expect(await list.exit).toBe(0);
    expect(list.lines.find((line) => line.step === 'refresh')).toMatchObject({ refreshed: true });
    expect(list.lines.map((line) => line.step)).not.toContain('authorization_url');
    expect((list.lines.at(-1)!.structuredContent as { notes: unknown[] }).notes).toEqual([note]);

    // The CLI's DCR client is still registered: an authorization request for it goes on to login.
    const { challenge } = pkce();
    const authorization = await fetch(
      `${issuer}/auth?${new URLSearchParams({ client_id: client.client_id, response_type: 'code', redirect_uri: 'http://127.0.0.1:8976/callback', scope: 'mcp:tools', code_challenge: challenge, code_challenge_method: 'S256', resource: mcpUrl })}`,
      { redirect: 'manual' },
    );
    expect(authorization.status).toBe(303);
    expect(authorization.headers.get('location')).toContain('/interaction/');

    // Same browser, same web client, same scopes: no login and no consent page.
    const again = await authorizeClient({
      issuer,
      clientId: web.clientId,
      redirectUri: WEB_REDIRECT,
      user: DEMO_USERS.alice,
      browser: webBrowser,
      params: { scope: 'mcp:tools mcp:resources mcp:prompts', resource: mcpUrl },
    });
    expect(again.pagesSeen.map((page) => `${page.url} ${page.text().slice(0, 200)}`)).toEqual([]);
    expect(again.callback.searchParams.get('code')).toBeTruthy();
  });
});
