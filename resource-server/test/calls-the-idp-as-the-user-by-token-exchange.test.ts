/**
 * A tool that calls an upstream API as the user: `upstream_profile` asks the IdP's userinfo
 * endpoint with the user's own upstream access token, which the resource server obtained by
 * RFC 8693 token exchange at the auth server. Real parts throughout: dev-idp, the auth server
 * on Redis, the resource server, and the real CLI for the end-to-end case. dev-idp records
 * every bearer token it receives: none is an MCP access token. The clock is moved, never
 * waited for.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DevIdpObservation } from '../../dev-idp/src/server.ts';
import { runCli } from '../../mcp-client/test/fixtures/cli.ts';
import { authorizeInBrowser, obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { insufficientScopeChallenge, mcp } from './helpers.ts';

const ALICE_AT_THE_IDP = '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11';
const HOUR = 60 * 60 * 1000;

let stack: Stack;
const observed: DevIdpObservation[] = [];
const logLines: string[] = [];
const configDirs: string[] = [];

beforeAll(async () => {
  const logger = (name: string) =>
    pino(
      { name, level: 'debug' },
      new Writable({
        write: (chunk, _encoding, done) => {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
  stack = await startStack({
    tokenExchange: true,
    // MCP tokens outlive the upstream ones here, so moving the clock expires only the latter.
    authServerEnv: { ACCESS_TOKEN_TTL: String(24 * 60 * 60) },
    idpObserver: (observation) => observed.push(observation),
    authServerLogger: logger('auth-server'),
    resourceServerLogger: logger('resource-server'),
  });
});
afterAll(async () => {
  await stack?.close();
  await Promise.all(configDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
afterEach(() => {
  vi.useRealTimers();
});

const bearerTokensAtTheIdp = () => observed.flatMap((o) => (o.kind === 'request' && o.bearerToken ? [o.bearerToken] : []));
const refreshesAtTheIdp = () => observed.filter((o) => o.kind === 'tokens_issued' && o.grantType === 'refresh_token').length;
const issuedByTheAuthServer = (token: string) => {
  try {
    return decodeJwt(token).iss === stack.authServerIssuer;
  } catch {
    return false;
  }
};
const profileCall = (token: string) => mcp(stack.mcpUrl, { token, method: 'tools/call', params: { name: 'upstream_profile', arguments: {} } });

/** Every access token the CLI has stored. */
async function storedAccessTokens(configDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'access_token' && typeof inner === 'string') found.push(inner);
        else walk(inner);
      }
    }
  };
  for (const file of await readdir(configDir)) if (file.endsWith('.json')) walk(JSON.parse(await readFile(join(configDir, file), 'utf8')));
  return found;
}

describe('upstream_profile end to end with the real CLI', () => {
  it('logs alice in, steps up to upstream:read, and answers what the IdP itself says about her; the MCP token never reaches the IdP', async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'upstream-e2e-'));
    configDirs.push(configDir);
    const env = { MCP_CLIENT_CONFIG_DIR: configDir };
    const browser = new ScriptedBrowser();
    const approve = async (run: ReturnType<typeof runCli>) => {
      const line = await run.waitFor('authorizationUrl');
      const { callback } = await authorizeInBrowser(browser, String(line.authorizationUrl), { redirectUri: String(line.redirectUri), user: DEMO_USERS.alice });
      expect((await browser.open(callback.href)).status).toBe(200);
    };

    const login = runCli(['login', stack.mcpUrl, '--no-browser', '--json', '--timeout', '60'], env);
    await approve(login);
    expect(await login.exit).toBe(0);
    expect(login.lines.at(-1)!.tools).toContain('upstream_profile');
    const mcpTokens = await storedAccessTokens(configDir);

    const call = runCli(['call', stack.mcpUrl, 'upstream_profile', '--no-browser', '--json', '--timeout', '60'], env);
    await approve(call);
    expect(await call.exit).toBe(0);
    expect(call.lines.find((line) => line.step === 'step_up')).toMatchObject({ requiredScope: expect.stringContaining('upstream:read') });
    const result = call.lines.at(-1)!;
    expect(result.step).toBe('result');
    expect(result.structuredContent).toMatchObject({
      issuer: stack.idpIssuer,
      profile: { sub: ALICE_AT_THE_IDP, email: 'alice@example.com', email_verified: true, name: 'alice' },
    });
    mcpTokens.push(...(await storedAccessTokens(configDir)));

    const atTheIdp = bearerTokensAtTheIdp();
    expect(atTheIdp.length).toBeGreaterThan(0);
    expect(mcpTokens.length).toBeGreaterThanOrEqual(2);
    for (const token of atTheIdp) {
      expect(mcpTokens).not.toContain(token);
      expect(issuedByTheAuthServer(token)).toBe(false);
    }
  });
});

describe('upstream_profile over HTTP', () => {
  let bob: { clientId: string; tokens: { access_token: string; refresh_token?: string } };
  beforeAll(async () => {
    bob = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob, scope: 'mcp:tools upstream:read' });
  });

  it('is obtained by step-up: the first challenge does not ask for upstream:read, the tool call answers 403 naming it', async () => {
    const unauthenticated = await mcp(stack.mcpUrl, { method: 'tools/list' });
    expect(unauthenticated.headers.get('www-authenticate')).toContain('scope="mcp:tools mcp:resources mcp:prompts"');
    const { tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob });
    const refused = await profileCall(tokens.access_token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe(
      insufficientScopeChallenge(stack.resourceMetadataUrl, 'mcp:tools upstream:read', 'tools/call upstream_profile needs the scopes mcp:tools upstream:read.'),
    );
  });

  it('after the upstream token expired: one refresh at the IdP for ten concurrent calls, and every call answers', async () => {
    expect((await profileCall(bob.tokens.access_token)).body.result.structuredContent.profile.email).toBe('bob@example.com');
    // A second MCP access token of the same grant: the resource server caches per token, so
    // both exchange, and the auth server's lock is what keeps the refresh to one.
    const second = String(
      (await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: bob.tokens.refresh_token!, client_id: bob.clientId })).body
        .access_token,
    );
    const before = refreshesAtTheIdp();

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + HOUR + 60_000);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => profileCall(i % 2 ? second : bob.tokens.access_token)));
    expect(answers.map((answer) => [answer.status, answer.body.result?.isError ?? false, answer.body.result?.structuredContent?.profile?.email])).toEqual(
      Array(10).fill([200, false, 'bob@example.com']),
    );
    expect(refreshesAtTheIdp()).toBe(before + 1);

    // Cached until shortly before it expires: the next call exchanges and refreshes nothing.
    const exchangesBefore = logLines.filter((line) => line.includes('upstream access token issued')).length;
    expect((await profileCall(bob.tokens.access_token)).status).toBe(200);
    expect(logLines.filter((line) => line.includes('upstream access token issued')).length).toBe(exchangesBefore);
    expect(refreshesAtTheIdp()).toBe(before + 1);
  });

  it('says so, as a tool error without a stack trace, when the user must sign in again upstream', async () => {
    const { tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.bob,
      scope: 'mcp:tools upstream:read',
    });
    expect((await profileCall(tokens.access_token)).body.result.isError).toBeUndefined();
    await stack.restartIdp(); // it forgets every refresh token it issued
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3 * HOUR);
    const answer = await profileCall(tokens.access_token);
    expect(answer.status).toBe(200);
    expect(answer.body.result.isError).toBe(true);
    const text = answer.body.result.content[0]!.text;
    expect(text).toMatch(
      /^Sign in again to use this tool \(the user must sign in again: the IdP refused to refresh the upstream tokens \(invalid_grant \(HTTP 400\)\)\)\. Log in/,
    );
    expect(text).not.toMatch(/\n\s+at |Error:/);
  });

  it('never logs a token: MCP access tokens and upstream tokens appear in no log line', async () => {
    const logs = logLines.join('');
    expect(logs).toContain('token exchange');
    const secrets = [...bearerTokensAtTheIdp(), bob.tokens.access_token, bob.tokens.refresh_token!];
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });
});
