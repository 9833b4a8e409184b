import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAs, startFakeRs } from './fixtures/servers.ts';
import type { FakeAs, FakeRs, FakeAsOptions } from './fixtures/servers.ts';
import { browse, runCli } from './fixtures/cli.ts';

let as: FakeAs;
let rs: FakeRs;
let dir: string;
let env: Record<string, string>;

async function setup(options: FakeAsOptions = {}): Promise<void> {
  as = await startFakeAs(options);
  rs = await startFakeRs(as);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-e2e-'));
  env = { MCP_CLIENT_CONFIG_DIR: join(dir, 'config') };
});
afterEach(async () => {
  await rs?.close();
  await as?.close();
  await rm(dir, { recursive: true, force: true });
});

function expectNoSecrets(text: string): void {
  const secrets = as.secrets();
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

/** login <url> --no-browser --json, driven by a scripted browser, exactly as the lead's e2e test does. */
async function login(extra: string[] = []): Promise<ReturnType<typeof runCli>> {
  const run = runCli(['login', rs.resource, '--no-browser', '--json', ...extra], env);
  const line = await run.waitFor('authorizationUrl');
  const page = await browse(String(line['authorizationUrl']));
  expect(page.status).toBe(200);
  expect(page.body).toMatch(/close this tab/i);
  expect(await run.exit).toBe(0);
  return run;
}

describe('login end to end (fake AS + real MCP server SDK behind a bearer check)', () => {
  it('prints every step as NDJSON, stores the tokens 0600, and never prints a token', async () => {
    await setup();
    const run = await login();
    const steps = run.lines.map((l) => l['step']);
    expect(steps).toEqual([
      'challenge',
      'resource_metadata',
      'authorization_server_metadata',
      'registration',
      'authorization_url',
      'callback',
      'token',
      'mcp_connect',
      'tools',
      'result',
    ]);
    for (const line of run.lines.slice(0, -1)) expect(typeof line['ms']).toBe('number');

    const byStep = Object.fromEntries(run.lines.map((l) => [l['step'] as string, l]));
    expect(byStep['challenge']).toMatchObject({ status: 401, scope: 'mcp:tools' });
    expect(byStep['resource_metadata']).toMatchObject({ resource: rs.resource, authorizationServers: [as.issuer], resourceMatches: 'exact' });
    expect(byStep['registration']).toMatchObject({ source: 'dcr', clientId: 'client-1' });
    const authUrl = new URL(String(byStep['authorization_url']?.['authorizationUrl']));
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('resource')).toBe(rs.resource);
    expect(authUrl.searchParams.get('scope')).toBe('mcp:tools offline_access');
    expect(authUrl.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(byStep['callback']).toMatchObject({ state: 'ok', iss: as.issuer });
    expect(byStep['token']).toMatchObject({ tokenType: 'Bearer', expiresIn: 3600, scope: 'mcp:tools offline_access', refreshToken: true });
    expect(byStep['tools']).toMatchObject({ tools: ['whoami', 'echo', 'notes_add'] });
    expect(byStep['result']).toMatchObject({ command: 'login', issuer: as.issuer, resource: rs.resource, tools: ['whoami', 'echo', 'notes_add'] });

    // The token request carried the resource (RFC 8707) and the PKCE verifier.
    const tokenRequest = new URLSearchParams(as.requests.find((r) => r.path === '/token')?.body);
    expect(tokenRequest.get('resource')).toBe(rs.resource);
    expect(tokenRequest.get('code_verifier')).toBeTruthy();

    expectNoSecrets(run.stdout() + run.stderr());
    const files = await readdir(env['MCP_CLIENT_CONFIG_DIR'] ?? '');
    expect(files).toHaveLength(1);
    const file = join(env['MCP_CLIENT_CONFIG_DIR'] ?? '', files[0] ?? '');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toContain(as.secrets().find((s) => s.startsWith('AT-')));
  });

  it('then tools / call use the stored token, and logout revokes and forgets it', async () => {
    await setup();
    await login();

    const tools = runCli(['tools', rs.resource, '--json'], env);
    expect(await tools.exit).toBe(0);
    expect(tools.lines.map((l) => l['step'])).toEqual(['stored_token', 'mcp_connect', 'tools', 'result']);
    expect(tools.lines.at(-1)).toMatchObject({
      step: 'result',
      command: 'tools',
      tools: [expect.objectContaining({ name: 'whoami' }), expect.objectContaining({ name: 'echo' }), expect.objectContaining({ name: 'notes_add' })],
    });

    const call = runCli(['call', rs.resource, 'echo', '{"text":"hello"}', '--json'], env);
    expect(await call.exit).toBe(0);
    expect(call.lines.at(-1)).toMatchObject({ step: 'result', command: 'call', tool: 'echo', isError: false, content: [{ type: 'text', text: 'hello' }] });

    const whoami = runCli(['call', rs.resource, 'whoami', '--json', '--verbose'], env);
    expect(await whoami.exit).toBe(0);
    expect(whoami.lines.at(-1)).toMatchObject({ structuredContent: { sub: 'alice' } });
    expect(whoami.stderr()).toContain('authorization: Bearer [REDACTED]');

    const logout = runCli(['logout', rs.resource, '--json'], env);
    expect(await logout.exit).toBe(0);
    expect(logout.lines.find((l) => l['step'] === 'revocation')).toMatchObject({ revoked: true, status: { refreshToken: 200, accessToken: 200 } });
    expect(logout.lines.at(-1)).toMatchObject({ step: 'result', command: 'logout', revoked: true, removed: true });
    expect(as.revoked).toHaveLength(2);

    for (const run of [tools, call, whoami, logout]) expectNoSecrets(run.stdout() + run.stderr());
  });

  it('refreshes an expired stored token with the refresh token (with resource)', async () => {
    await setup({ expiresIn: 5 }); // inside the 30 s refresh margin: always "expired"
    await login();
    const tools = runCli(['tools', rs.resource, '--json'], env);
    expect(await tools.exit).toBe(0);
    expect(tools.lines.map((l) => l['step'])).toEqual(['stored_token', 'authorization_server_metadata', 'refresh', 'mcp_connect', 'tools', 'result']);
    expect(tools.lines[0]).toMatchObject({ expired: true, refreshToken: true });
    const refresh = new URLSearchParams(as.requests.filter((r) => r.path === '/token').at(-1)?.body);
    expect(refresh.get('grant_type')).toBe('refresh_token');
    expect(refresh.get('resource')).toBe(rs.resource);
    expectNoSecrets(tools.stdout() + tools.stderr());
  });

  it('steps up on 403 insufficient_scope: authorizes again with the union of scopes, then retries', async () => {
    await setup();
    await login();
    const run = runCli(['call', rs.resource, 'notes_add', '{"text":"x"}', '--no-browser', '--json'], env);
    const line = await run.waitFor('authorizationUrl');
    expect(new URL(String(line['authorizationUrl'])).searchParams.get('scope')).toBe('mcp:tools offline_access notes:write');
    await browse(String(line['authorizationUrl']));
    expect(await run.exit).toBe(0);
    const steps = run.lines.map((l) => l['step']);
    expect(steps.slice(0, 3)).toEqual(['stored_token', 'mcp_connect', 'step_up']);
    expect(run.lines.find((l) => l['step'] === 'step_up')).toMatchObject({ requiredScope: 'notes:write' });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', content: [{ type: 'text', text: 'added x' }] });
    expectNoSecrets(run.stdout() + run.stderr());
  });

  it('reports a denied authorization and exits non-zero', async () => {
    await setup({ authorize: 'deny' });
    const run = runCli(['login', rs.resource, '--no-browser', '--json'], env);
    const line = await run.waitFor('authorizationUrl');
    const page = await browse(String(line['authorizationUrl']));
    expect(page.status).toBe(400);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'access_denied' });
  });

  it('stops on an authorization response from the wrong issuer without showing its text', async () => {
    await setup({ sendIss: 'wrong', authorize: 'deny' });
    const run = runCli(['login', rs.resource, '--no-browser', '--json'], env);
    await browse(String((await run.waitFor('authorizationUrl'))['authorizationUrl']));
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'issuer_mismatch' });
    expect(run.stdout() + run.stderr()).not.toContain('The user said no');
    expect(as.requests.some((r) => r.path === '/token')).toBe(false);
  });

  it('times out waiting for the browser with a hint, in human mode without a stack trace', async () => {
    await setup();
    const run = runCli(['login', rs.resource, '--no-browser', '--timeout', '0.5'], env);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/No authorization response arrived .* within/);
    expect(run.stderr()).toContain('--timeout');
    expect(run.stderr()).not.toMatch(/\n\s+at /);
    expect(run.stderr()).toContain('authorization_url');
  });

  it('explains an unreachable server', async () => {
    await setup();
    const url = rs.resource;
    await rs.close();
    const run = runCli(['discover', url, '--json'], env);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'unreachable', message: expect.stringContaining('connection refused') });
  });
});
