/**
 * What the CLI does with each server answer, end to end (the real CLI as a child process,
 * fake AS and a real MCP server SDK behind a bearer check, all on loopback):
 * challenges on a later request, refresh on 401, step-up retry limit, a resource that
 * moves to another AS, and the client_credentials mode.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAs, startFakeRs } from './fixtures/servers.ts';
import type { FakeAs, FakeRs } from './fixtures/servers.ts';
import { browse, runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';

const closers: { close(): Promise<void> }[] = [];
let dir: string;
let env: Record<string, string>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-reacts-'));
  env = { MCP_CLIENT_CONFIG_DIR: join(dir, 'config') };
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

async function servers(
  asOptions: Parameters<typeof startFakeAs>[0] = {},
  rsOptions: Parameters<typeof startFakeRs>[1] = {},
): Promise<{ as: FakeAs; rs: FakeRs }> {
  const as = await startFakeAs(asOptions);
  const rs = await startFakeRs(as, rsOptions);
  closers.push(rs, as);
  return { as, rs };
}

/** Plays the browser for every authorization URL the CLI prints, until it exits. */
async function approveAll(run: CliRun): Promise<number> {
  let handled = 0;
  let exited = false;
  const exit = run.exit.then((code) => {
    exited = true;
    return code;
  });
  for (let i = 0; i < 200 && !exited; i++) {
    const urls = run.lines.filter((l) => typeof l['authorizationUrl'] === 'string');
    while (handled < urls.length) await browse(String(urls[handled++]!['authorizationUrl']));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return exit;
}

const steps = (run: CliRun) => run.lines.map((l) => l['step']);

describe('reacting to the server', () => {
  it('finds the challenge on a later MCP request when the server lets the handshake through without a token', async () => {
    const { as, rs } = await servers({}, { openHandshake: true });
    const run = runCli(['tools', rs.resource, '--no-browser', '--json'], env);
    expect(await approveAll(run)).toBe(0);
    const challenges = run.lines.filter((l) => l['step'] === 'challenge');
    expect(challenges.at(-1)).toMatchObject({
      status: 401,
      via: 'mcp_request',
      resourceMetadata: `${new URL(rs.resource).origin}/.well-known/oauth-protected-resource/mcp`,
    });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', tools: expect.arrayContaining([expect.objectContaining({ name: 'whoami' })]) });
    expect(as.registrations).toHaveLength(1);
  });

  it('refreshes a stored token the server rejects with 401 invalid_token, then retries', async () => {
    const { as, rs } = await servers();
    expect(await approveAll(runCli(['login', rs.resource, '--no-browser', '--json'], env))).toBe(0);
    as.accessTokens.clear(); // the AS forgot the access token (revoked, restarted): the RS answers 401
    const run = runCli(['call', rs.resource, 'whoami', '--json'], env);
    expect(await run.exit).toBe(0);
    expect(steps(run)).toEqual(expect.arrayContaining(['stored_token', 'token_rejected', 'refresh', 'tool_call', 'result']));
    expect(steps(run)).not.toContain('authorization_url');
    expect(new URLSearchParams(as.requests.filter((r) => r.path === '/token').at(-1)?.body).get('grant_type')).toBe('refresh_token');
  });

  it('stops stepping up after --max-step-ups when the server keeps asking for more scope', async () => {
    const { as, rs } = await servers({}, { neverEnoughScopeFor: 'echo' });
    const run = runCli(['call', rs.resource, 'echo', '{"text":"x"}', '--no-browser', '--json', '--max-step-ups', '2'], env);
    expect(await approveAll(run)).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'step_up_limit', hint: expect.any(String) });
    expect(run.lines.filter((l) => l['step'] === 'step_up' && l['stepUp'] !== undefined)).toHaveLength(2);
    // The first login plus two step-ups, each with the union of scopes so far.
    const authorizations = as.requests.filter((r) => r.path === '/authorize');
    expect(authorizations).toHaveLength(3);
    const scopes = run.lines.filter((l) => l['step'] === 'authorization_url').map((l) => new URL(String(l['authorizationUrl'])).searchParams.get('scope'));
    expect(scopes).toEqual(['mcp:tools offline_access', 'mcp:tools offline_access extra:1', 'mcp:tools offline_access extra:1 extra:2']);
  });

  it('does not re-authorize for a scope the token already has, and says why', async () => {
    const { as, rs } = await servers({}, { forbidTool: { name: 'echo', scope: 'mcp:tools' } });
    expect(await approveAll(runCli(['login', rs.resource, '--no-browser', '--json'], env))).toBe(0);
    const before = as.requests.filter((r) => r.path === '/authorize').length;
    const run = runCli(['call', rs.resource, 'echo', '{"text":"x"}', '--no-browser', '--json'], env);
    expect(await approveAll(run)).toBe(1);
    expect(as.requests.filter((r) => r.path === '/authorize').length).toBe(before);
    expect(run.lines.at(-1)).toMatchObject({
      step: 'error',
      error: 'insufficient_scope',
      message: expect.stringContaining('already carries'),
      hint: expect.any(String),
    });
  });

  it('follows a resource to a new authorization server: registers there and never shows it the old client', async () => {
    const as1 = await startFakeAs({ clientIdPrefix: 'as1' });
    const as2 = await startFakeAs({ clientIdPrefix: 'as2' });
    const rs = await startFakeRs(as1);
    closers.push(rs, as1, as2);
    expect(await approveAll(runCli(['login', rs.resource, '--no-browser', '--json'], env))).toBe(0);
    rs.setAs(as2);
    const run = runCli(['call', rs.resource, 'whoami', '--no-browser', '--json'], env);
    expect(await approveAll(run)).toBe(0);
    expect(as2.registrations).toHaveLength(1);
    const seenAtAs2 = as2.requests.map(
      (r) => `${r.query ?? ''} ${r.body} ${Buffer.from((r.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString()}`,
    );
    expect(seenAtAs2.some((text) => text.includes('as1-'))).toBe(false);
    expect(as2.requests.find((r) => r.path === '/authorize')?.query).toContain('client_id=as2-1');
    expect(as2.requests.filter((r) => r.path === '/authorize').length).toBe(1);
    const resourceMetadata = run.lines.filter((l) => l['step'] === 'authorization_server_metadata').at(-1);
    expect(resourceMetadata).toMatchObject({ issuer: as2.issuer });
    // The next run uses the new AS's token without asking anyone.
    const again = runCli(['call', rs.resource, 'whoami', '--json'], env);
    expect(await again.exit).toBe(0);
    expect(again.lines[0]).toMatchObject({ step: 'stored_token', issuer: as2.issuer });
  });

  it('gets a token with client_credentials for a machine client, without a browser', async () => {
    const { as, rs } = await servers({ machineClients: { 'machine-1': 'machine-secret' } });
    const run = runCli(['call', rs.resource, 'whoami', '--json', '--client-credentials', '--client-id', 'machine-1'], {
      ...env,
      MCP_CLIENT_SECRET: 'machine-secret',
    });
    expect(await run.exit).toBe(0);
    expect(steps(run)).not.toContain('authorization_url');
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({ grantType: 'client_credentials', authMethod: 'client_secret_basic' });
    const request = new URLSearchParams(as.requests.find((r) => r.path === '/token')?.body);
    expect(request.get('grant_type')).toBe('client_credentials');
    expect(request.get('resource')).toBe(rs.resource);
    expect(run.stdout() + run.stderr()).not.toContain('machine-secret');
    for (const secret of as.secrets()) expect(run.stdout() + run.stderr()).not.toContain(secret);
  });

  it('reports a wrong client_credentials secret with what to check', async () => {
    const { rs } = await servers({ machineClients: { 'machine-1': 'machine-secret' } });
    const run = runCli(['tools', rs.resource, '--json', '--client-credentials', '--client-id', 'machine-1', '--client-secret', 'wrong'], env);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'invalid_client', hint: expect.stringContaining('--client-id') });
  });
});
