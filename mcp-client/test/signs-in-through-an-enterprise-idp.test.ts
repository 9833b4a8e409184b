/**
 * --enterprise-idp: enterprise-managed authorization (SEP-990), end to end — the real CLI as
 * a child process signing in at a stand-in enterprise IdP (OIDC, auto-approved), exchanging
 * the ID token there for an ID-JAG (RFC 8693), and redeeming it at a stand-in authorization
 * server (fixtures/stand-in-assertion-servers.ts) that trusts that IdP, in front of a fake MCP
 * server. The stand-ins record every request; the test checks each parameter that went over.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browse, runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';
import { startFakeRs } from './fixtures/servers.ts';
import { JWT_BEARER, TOKEN_EXCHANGE, startStandInAs, startStandInIdp } from './fixtures/stand-in-assertion-servers.ts';
import type { StandInAs, StandInIdp, StandInIdpOptions } from './fixtures/stand-in-assertion-servers.ts';

const IDP_CLIENT = 'mcp-cli-at-idp';
const AS_CLIENT = 'mcp-cli-at-as';
const AS_SECRET = 'as-client-secret-7f3a';
const closers: { close(): Promise<void> }[] = [];
let dir: string;
let env: Record<string, string>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-enterprise-'));
  env = { MCP_CLIENT_CONFIG_DIR: join(dir, 'config'), MCP_CLIENT_SECRET: AS_SECRET };
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

async function stack(
  idpOptions: Partial<StandInIdpOptions> = {},
  asOptions: { expiresIn?: number } = {},
): Promise<{ idp: StandInIdp; as: StandInAs; mcp: string }> {
  let asIssuer = '';
  const idp = await startStandInIdp({ clientId: IDP_CLIENT, audience: () => asIssuer, asClientId: AS_CLIENT, ...idpOptions });
  const as = await startStandInAs({
    clients: { [AS_CLIENT]: { secret: AS_SECRET } },
    enterpriseIdp: { issuer: idp.issuer, publicKey: idp.publicKey },
    ...asOptions,
  });
  asIssuer = as.issuer;
  const rs = await startFakeRs(as);
  closers.push(rs, as, idp);
  return { idp, as, mcp: rs.resource };
}

function idpTokenRequests(idp: StandInIdp): URLSearchParams[] {
  return idp.requests.filter((r) => r.path === '/token').map((r) => new URLSearchParams(r.body));
}

function printed(run: CliRun): string {
  return run.stdout() + run.stderr();
}

const enterpriseFlags = (idp: StandInIdp) => ['--enterprise-idp', idp.issuer, '--idp-client-id', IDP_CLIENT, '--client-id', AS_CLIENT];

describe('signing in through an enterprise IdP (stand-in IdP and stand-in authorization server)', () => {
  it('signs in at the IdP, exchanges the ID token for an ID-JAG for the AS and resource, redeems it, and lists the tools', async () => {
    const { idp, as, mcp } = await stack();
    const run = runCli(['login', mcp, '--json', '--no-browser', ...enterpriseFlags(idp)], env);
    const shown = await run.waitFor('authorizationUrl');
    expect(shown).toMatchObject({ step: 'authorization_url', at: 'enterprise_idp', issuer: idp.issuer, scope: 'openid' });
    await browse(String(shown['authorizationUrl']));
    expect(await run.exit, run.stderr()).toBe(0);

    // 1. Sign-in: authorization code + PKCE S256, openid, a nonce, the loopback redirect.
    const authorize = new URLSearchParams(idp.requests.find((r) => r.path === '/authorize')?.query);
    expect(authorize.get('client_id')).toBe(IDP_CLIENT);
    expect(authorize.get('response_type')).toBe('code');
    expect(authorize.get('scope')).toBe('openid');
    expect(authorize.get('code_challenge_method')).toBe('S256');
    expect(authorize.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(authorize.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(authorize.has('resource')).toBe(false);

    // 2. The code exchange, then the RFC 8693 token exchange of the ID token the IdP issued.
    const [code, exchange, ...more] = idpTokenRequests(idp);
    expect(more).toHaveLength(0);
    expect(code?.get('grant_type')).toBe('authorization_code');
    expect(code?.get('code_verifier')).toBeTruthy();
    expect(Object.fromEntries(exchange!)).toEqual({
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      audience: as.issuer,
      resource: mcp,
      subject_token: idp.issued.idTokens[0],
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      client_id: IDP_CLIENT,
      scope: 'mcp:tools',
    });

    // 3. The ID-JAG at the authorization server: the JWT bearer grant, the confidential client by Basic auth.
    const [redeem, ...others] = as.tokenRequests();
    expect(others).toHaveLength(0);
    expect(Object.fromEntries(redeem!.form)).toEqual({ grant_type: JWT_BEARER, assertion: idp.issued.idJags[0], scope: 'mcp:tools', resource: mcp });
    expect(redeem!.headers.authorization).toBe(`Basic ${Buffer.from(`${AS_CLIENT}:${AS_SECRET}`).toString('base64')}`);

    expect(run.lines.find((l) => l['step'] === 'id_token')).toMatchObject({ iss: idp.issuer, sub: 'alice@enterprise.example', aud: [IDP_CLIENT] });
    expect(run.lines.find((l) => l['step'] === 'token_exchange')).toMatchObject({ audience: as.issuer, resource: mcp, clientId: AS_CLIENT });
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({ grantType: JWT_BEARER, assertion: 'id-jag', authMethod: 'client_secret_basic' });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', command: 'login', issuer: as.issuer, tools: expect.arrayContaining(['whoami']) });

    // Nothing secret on either stream: no ID token, ID-JAG, access token, code or secret.
    for (const secret of [...idp.issued.idTokens, ...idp.issued.idJags, ...as.secrets(), AS_SECRET]) expect(printed(run)).not.toContain(secret);

    // The stored token is used by the next command, without the IdP.
    const tools = runCli(['tools', mcp, '--json'], env);
    expect(await tools.exit).toBe(0);
    expect(idp.requests.filter((r) => r.path === '/token')).toHaveLength(2);
  });

  it('exchanges an ID token from --id-token-file instead of signing in, and prints none of the tokens with --verbose', async () => {
    const { idp, as, mcp } = await stack();
    const idToken = await idp.idToken(IDP_CLIENT);
    const file = join(dir, 'id-token');
    await writeFile(file, idToken, { mode: 0o600 });
    const run = runCli(['call', mcp, 'whoami', '--verbose', ...enterpriseFlags(idp), '--id-token-file', file], env);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(idp.requests.some((r) => r.path === '/authorize')).toBe(false);
    const [exchange, ...more] = idpTokenRequests(idp);
    expect(more).toHaveLength(0);
    expect(exchange?.get('subject_token')).toBe(idToken);
    expect(exchange?.get('audience')).toBe(as.issuer);
    expect(as.tokenRequests()[0]?.form.get('assertion')).toBe(idp.issued.idJags[0]);
    expect(run.stdout()).toContain('you are alice');
    expect(run.stderr()).toContain('subject_token=%5BREDACTED%5D');
    expect(run.stderr()).toContain('(the ID-JAG is not shown)');
    for (const secret of [idToken, ...idp.issued.idJags, ...as.secrets(), AS_SECRET]) expect(printed(run)).not.toContain(secret);
  });

  it('asks for a new sign-in when the stored token has expired, instead of a browser login at the authorization server', async () => {
    const { idp, as, mcp } = await stack({}, { expiresIn: 1 });
    const file = join(dir, 'id-token');
    await writeFile(file, await idp.idToken(IDP_CLIENT));
    expect(await runCli(['call', mcp, 'whoami', '--json', ...enterpriseFlags(idp), '--id-token-file', file], env).exit).toBe(0);
    const later = runCli(['tools', mcp, '--json'], env);
    expect(await later.exit).toBe(1);
    expect(later.lines.at(-1)).toMatchObject({ step: 'error', error: 'login_required', hint: expect.stringContaining('--enterprise-idp') });
    expect(later.lines.some((l) => l['step'] === 'authorization_url')).toBe(false);
    expect(as.tokenRequests()).toHaveLength(1);
  });

  it('shows the IdP’s refusal of the token exchange and stops there, before the authorization server', async () => {
    const { idp, as, mcp } = await stack({ refuseExchange: { error: 'invalid_target', description: 'alice may not use this MCP server' } });
    const file = join(dir, 'id-token');
    await writeFile(file, await idp.idToken(IDP_CLIENT));
    const run = runCli(['call', mcp, 'whoami', '--json', ...enterpriseFlags(idp), '--id-token-file', file], env);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({
      step: 'error',
      error: 'token_exchange_refused',
      message: expect.stringContaining('alice may not use this MCP server'),
    });
    expect(as.tokenRequests()).toHaveLength(0);
    expect(idpTokenRequests(idp)).toHaveLength(1);
  });

  it('refuses an ID token from another issuer than --enterprise-idp without sending it anywhere', async () => {
    const { idp, as, mcp } = await stack();
    const other = await startStandInIdp({ clientId: IDP_CLIENT, audience: () => as.issuer, asClientId: AS_CLIENT });
    closers.push(other);
    const file = join(dir, 'id-token');
    await writeFile(file, await other.idToken(IDP_CLIENT));
    const run = runCli(['call', mcp, 'whoami', '--json', ...enterpriseFlags(idp), '--id-token-file', file], env);
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'id_token_issuer' });
    expect(idpTokenRequests(idp)).toHaveLength(0);
    expect(idpTokenRequests(other)).toHaveLength(0);
  });
});

describe('--enterprise-idp usage errors (exit 2, before any request)', () => {
  const cases: { name: string; args: string[]; message: string }[] = [
    {
      name: 'without --idp-client-id',
      args: ['--enterprise-idp', 'https://idp.example', '--client-id', AS_CLIENT],
      message: '--enterprise-idp needs --idp-client-id',
    },
    {
      name: 'without --client-id',
      args: ['--enterprise-idp', 'https://idp.example', '--idp-client-id', IDP_CLIENT],
      message: '--enterprise-idp needs --client-id',
    },
    {
      name: 'an IdP that is not a URL',
      args: ['--enterprise-idp', 'idp.example', '--idp-client-id', IDP_CLIENT, '--client-id', AS_CLIENT],
      message: "must be the enterprise IdP's issuer URL",
    },
    {
      name: 'with --client-credentials',
      args: ['--enterprise-idp', 'https://idp.example', '--idp-client-id', IDP_CLIENT, '--client-id', AS_CLIENT, '--client-credentials'],
      message: '--enterprise-idp signs a user in',
    },
    { name: '--id-token-file alone', args: ['--id-token-file', '/tmp/x'], message: '--id-token-file belongs to --enterprise-idp' },
    {
      name: 'a missing --id-token-file',
      args: ['--enterprise-idp', 'https://idp.example', '--idp-client-id', IDP_CLIENT, '--client-id', AS_CLIENT, '--id-token-file', '/nonexistent/id-token'],
      message: '--id-token-file /nonexistent/id-token: no such file.',
    },
  ];
  it.each(cases)('refuses $name', async ({ args, message }) => {
    const run = runCli(['call', 'http://127.0.0.1:9/mcp', 'whoami', ...args], env);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain(message);
    expect(run.stderr()).not.toContain('Cannot reach');
  });
});
