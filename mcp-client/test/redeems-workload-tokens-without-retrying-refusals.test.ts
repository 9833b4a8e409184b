/**
 * --workload-token-file: workload identity federation (SEP-1933), end to end — the real CLI
 * as a child process against a stand-in authorization server (fixtures/stand-in-assertion-servers.ts)
 * that trusts one workload platform and verifies its JWTs, in front of a fake MCP server. The
 * workload's token is a file the "platform" (the test) writes and rotates.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, generateKeyPair } from 'jose';
import { runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';
import { startFakeRs } from './fixtures/servers.ts';
import { JWT_BEARER, startStandInAs } from './fixtures/stand-in-assertion-servers.ts';
import type { StandInAs, StandInAsOptions } from './fixtures/stand-in-assertion-servers.ts';

const PLATFORM = 'https://kubernetes.default.svc.cluster.local';
const WORKLOAD_CLIENT = 'workload-client';
const closers: { close(): Promise<void> }[] = [];
let dir: string;
let env: Record<string, string>;
let platformKey: Awaited<ReturnType<typeof generateKeyPair>>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-workload-'));
  env = { MCP_CLIENT_CONFIG_DIR: join(dir, 'config') };
  platformKey = await generateKeyPair('ES256');
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

async function stack(options: Partial<StandInAsOptions> = {}): Promise<{ as: StandInAs; mcp: string; settings: StandInAsOptions }> {
  // The stand-in reads its settings as it answers: a test may change them between runs.
  const settings: StandInAsOptions = {
    clients: { [WORKLOAD_CLIENT]: { public: true }, 'other-client': { public: true } },
    workload: { issuer: PLATFORM, publicKey: platformKey.publicKey, clients: [WORKLOAD_CLIENT] },
    ...options,
  };
  const as = await startStandInAs(settings);
  const rs = await startFakeRs(as);
  closers.push(rs, as);
  return { as, mcp: rs.resource, settings };
}

/** What the platform writes into the pod: a service-account token for `audience`. */
async function workloadToken(audience: string, expiresIn = '10m'): Promise<string> {
  return new SignJWT({ kubernetes: { namespace: 'agents', serviceaccount: { name: 'notes-bot' } } })
    .setProtectedHeader({ alg: 'ES256', kid: 'platform' })
    .setIssuer(PLATFORM)
    .setSubject('system:serviceaccount:agents:notes-bot')
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(platformKey.privateKey);
}

const tokenFile = () => join(dir, 'token');

function jwtBearerRequests(as: StandInAs) {
  return as.tokenRequests().filter((r) => r.form.get('grant_type') === JWT_BEARER);
}

function printed(run: CliRun): string {
  return run.stdout() + run.stderr();
}

describe('a workload redeeming its platform token (stand-in authorization server)', () => {
  it('sends the JWT from the file with the jwt-bearer grant, client_id, resource and scope, and calls the tool', async () => {
    const { as, mcp } = await stack();
    const jwt = await workloadToken(as.issuer);
    await writeFile(tokenFile(), `${jwt}\n`);
    const run = runCli(['call', mcp, 'whoami', '--json', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT], env);
    expect(await run.exit, run.stderr()).toBe(0);
    const [request, ...more] = as.tokenRequests();
    expect(more).toHaveLength(0);
    expect(Object.fromEntries(request!.form)).toEqual({
      grant_type: JWT_BEARER,
      assertion: jwt,
      client_id: WORKLOAD_CLIENT,
      resource: mcp,
      scope: 'mcp:tools',
    });
    expect(request!.headers.authorization).toBeUndefined();
    expect(run.lines.find((l) => l['step'] === 'workload_token')).toMatchObject({
      file: tokenFile(),
      iss: PLATFORM,
      sub: 'system:serviceaccount:agents:notes-bot',
      aud: [as.issuer],
      expired: false,
    });
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({ grantType: JWT_BEARER, assertion: 'workload', authMethod: 'none' });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', content: [{ type: 'text', text: 'you are alice' }] });
    expect(as.requests.some((r) => r.path === '/authorize' || r.path === '/register')).toBe(false);
  });

  it('never prints the workload token or the access token, with --verbose either', async () => {
    const { as, mcp } = await stack();
    const jwt = await workloadToken(as.issuer);
    await writeFile(tokenFile(), jwt);
    const run = runCli(['call', mcp, 'whoami', '--verbose', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT], env);
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain('assertion=%5BREDACTED%5D');
    expect(run.stderr()).toContain('the token itself is not shown');
    for (const secret of [jwt, jwt.split('.')[2]!, ...as.secrets()]) expect(printed(run)).not.toContain(secret);
  });

  it('reads the rotated file again when the MCP server refuses the stored token, and redeems it once', async () => {
    const { as, mcp } = await stack();
    const first = await workloadToken(as.issuer);
    await writeFile(tokenFile(), first);
    expect(await runCli(['call', mcp, 'whoami', '--json', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT], env).exit).toBe(0);
    // The platform rotates the token; the AS forgets the access token it issued (revoked, restarted).
    const rotated = await workloadToken(as.issuer);
    await writeFile(tokenFile(), rotated);
    as.accessTokens.clear();
    // A later run without the flags: the stored token's file is read again.
    const again = runCli(['call', mcp, 'whoami', '--json'], env);
    expect(await again.exit, again.stderr()).toBe(0);
    expect(again.lines.find((l) => l['step'] === 'token_rejected')).toMatchObject({ status: 401, via: 'stored' });
    expect(jwtBearerRequests(as).map((r) => r.form.get('assertion'))).toEqual([first, rotated]);
  });

  it('reads the file again when the stored token has expired, in a later run without the flags', async () => {
    const { as, mcp } = await stack({ expiresIn: 1 }); // within the 30 s margin: expired for the next run
    const first = await workloadToken(as.issuer);
    await writeFile(tokenFile(), first);
    expect(await runCli(['call', mcp, 'whoami', '--json', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT], env).exit).toBe(0);
    const rotated = await workloadToken(as.issuer);
    await writeFile(tokenFile(), rotated);
    const again = runCli(['call', mcp, 'whoami', '--json'], env);
    expect(await again.exit, again.stderr()).toBe(0);
    expect(again.lines.find((l) => l['step'] === 'stored_token')).toMatchObject({ grant: 'jwt-bearer', expired: true });
    expect(again.lines.some((l) => l['step'] === 'token_rejected')).toBe(false);
    expect(jwtBearerRequests(as).map((r) => r.form.get('assertion'))).toEqual([first, rotated]);
  });

  it('stops after that one redemption when the MCP server refuses the new token too', async () => {
    const { as, mcp, settings } = await stack();
    const args = ['call', mcp, 'whoami', '--json', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT];
    await writeFile(tokenFile(), await workloadToken(as.issuer));
    expect(await runCli(args, env).exit).toBe(0);
    await writeFile(tokenFile(), await workloadToken(as.issuer));
    as.accessTokens.clear();
    settings.unusableTokens = true; // every token from now on is refused by the MCP server
    const run = runCli(args, env);
    expect(await run.exit).toBe(1);
    expect(run.lines.filter((l) => l['step'] === 'token_rejected').map((l) => l['via'])).toEqual(['stored', 'jwt_bearer']);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'token_rejected' });
    expect(jwtBearerRequests(as)).toHaveLength(2); // one per run
  });

  it('stops at once when the MCP server refuses the token just redeemed', async () => {
    const { as, mcp } = await stack({ unusableTokens: true });
    await writeFile(tokenFile(), await workloadToken(as.issuer));
    const run = runCli(['call', mcp, 'whoami', '--json', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT], env);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'token_rejected' });
    expect(jwtBearerRequests(as)).toHaveLength(1);
  });

  const refusals: { name: string; token: (issuer: string) => Promise<string>; args?: string[]; error: string; description: RegExp }[] = [
    { name: 'an expired token', token: (issuer) => workloadToken(issuer, '-1m'), error: 'invalid_grant', description: /"exp" claim timestamp check failed/ },
    {
      name: 'a token for another audience',
      token: () => workloadToken('https://other-as.example'),
      error: 'invalid_grant',
      description: /unexpected "aud" claim value/,
    },
    {
      name: 'a scope the workload may not have',
      token: (issuer) => workloadToken(issuer),
      args: ['--scope', 'admin'],
      error: 'invalid_scope',
      description: /admin is not granted/,
    },
    {
      name: 'a client not configured for the workload',
      token: (issuer) => workloadToken(issuer),
      args: ['--client-id', 'other-client'],
      error: 'unauthorized_client',
      description: /client other-client may not redeem workload tokens/,
    },
  ];
  it.each(refusals)('shows the refusal of $name with the server’s words, exit 1, and neither retries nor tries another grant', async (c) => {
    const { as, mcp } = await stack({ forbiddenScopes: ['admin'] });
    await writeFile(tokenFile(), await c.token(as.issuer));
    const clientArgs = c.args?.includes('--client-id') ? [] : ['--client-id', WORKLOAD_CLIENT];
    const run = runCli(['call', mcp, 'whoami', '--json', '--workload-token-file', tokenFile(), ...clientArgs, ...(c.args ?? [])], env);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: c.error, message: expect.stringMatching(c.description) });
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({ error: c.error, retried: false });
    // Exactly one token request, the jwt-bearer one: no retry, no client_credentials, no browser login, no registration.
    expect(as.tokenRequests().map((r) => r.form.get('grant_type'))).toEqual([JWT_BEARER]);
    expect(as.requests.some((r) => r.path === '/authorize' || r.path === '/register')).toBe(false);
    expect(run.lines.some((l) => l['step'] === 'authorization_url')).toBe(false);
  });

  it('says so in human mode too, with the description and what to check', async () => {
    const { as, mcp } = await stack();
    await writeFile(tokenFile(), await workloadToken(as.issuer, '-1m'));
    const run = runCli(['call', mcp, 'whoami', '--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT], env);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain(
      '✗ The workload token was refused by the authorization server: invalid_grant — workload token refused: "exp" claim timestamp check failed.',
    );
    expect(run.stderr()).toContain('mcp-client does not retry');
    expect(run.stderr()).toContain('(not retried; no other grant tried)');
  });
});

describe('--workload-token-file usage errors (exit 2, before any request)', () => {
  const cases: { name: string; args: () => string[]; content?: string; message: string }[] = [
    {
      name: 'with --client-credentials',
      content: 'a.b.c',
      args: () => ['--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT, '--client-credentials', '--client-secret', 's'],
      message: '--workload-token-file and --client-credentials are two different grants',
    },
    { name: 'without --client-id', content: 'a.b.c', args: () => ['--workload-token-file', tokenFile()], message: '--workload-token-file needs --client-id' },
    {
      name: 'a missing file',
      args: () => ['--workload-token-file', join(dir, 'missing'), '--client-id', WORKLOAD_CLIENT],
      message: '/missing: no such file.',
    },
    {
      name: 'a file without a JWT',
      content: 'not-a-jwt\n',
      args: () => ['--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT],
      message: 'does not hold a JWT',
    },
    {
      name: 'with --enterprise-idp',
      content: 'a.b.c',
      args: () => ['--workload-token-file', tokenFile(), '--client-id', WORKLOAD_CLIENT, '--enterprise-idp', 'https://idp.example', '--idp-client-id', 'x'],
      message: '--workload-token-file is for a workload, --enterprise-idp for a user',
    },
  ];
  it.each(cases)('refuses $name', async ({ args, content, message }) => {
    if (content !== undefined) await writeFile(tokenFile(), content);
    const run = runCli(['call', 'http://127.0.0.1:9/mcp', 'whoami', ...args()], env);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain(message);
    expect(run.stderr()).not.toContain('Cannot reach');
  });
});
