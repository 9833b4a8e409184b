/**
 * The whole flow on real components: dev-idp, auth-server and resource-server on free
 * loopback ports, the real CLI as a child process, and a scripted browser that fills the
 * IdP's login form and presses Allow on the consent page, as a person would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeInBrowser, obtainAccessToken } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { runCli } from './fixtures/cli.ts';

let stack: Stack;
const configDirs: string[] = [];

beforeAll(async () => {
  stack = await startStack({ extraResourcePaths: ['/another-mcp'] });
});
afterAll(async () => {
  await stack?.close();
  await Promise.all(configDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function loginWithCli(user: (typeof DEMO_USERS)[keyof typeof DEMO_USERS]) {
  const configDir = await mkdtemp(join(tmpdir(), 'mcp-client-e2e-'));
  configDirs.push(configDir);
  const env = { MCP_CLIENT_CONFIG_DIR: configDir };
  const login = runCli(['login', stack.mcpUrl, '--no-browser', '--json', '--timeout', '60'], env);

  const authorize = await login.waitFor('authorizationUrl');
  const redirectUri = String(authorize.redirectUri);
  const browser = new ScriptedBrowser();
  const { callback } = await authorizeInBrowser(browser, String(authorize.authorizationUrl), { redirectUri, user });
  // Deliver the authorization response to the CLI's loopback listener, as the browser would.
  const landing = await browser.open(callback.href);
  expect(landing.status).toBe(200);

  expect(await login.exit).toBe(0);
  return { env, login, configDir };
}

describe('mcp-client login against the real stack', () => {
  it('logs alice in and shows every step, then whoami answers with alice', async () => {
    const { env, login } = await loginWithCli(DEMO_USERS.alice);
    const steps = login.lines.map((line) => line.step);
    expect(steps).toEqual(
      expect.arrayContaining([
        'challenge',
        'resource_metadata',
        'authorization_server_metadata',
        'registration',
        'authorization_url',
        'callback',
        'token',
        'mcp_connect',
        'result',
      ]),
    );
    const challenge = login.lines.find((line) => line.step === 'challenge')!;
    expect(challenge.status).toBe(401);
    expect(challenge.resourceMetadata).toBe(stack.resourceMetadataUrl);
    const asMetadata = login.lines.find((line) => line.step === 'authorization_server_metadata')!;
    expect(asMetadata.issuer).toBe(stack.authServerIssuer);
    const callback = login.lines.find((line) => line.step === 'callback')!;
    expect(callback.iss).toBe(stack.authServerIssuer);
    const result = login.lines.at(-1)!;
    expect(result.step).toBe('result');
    expect(result.tools).toContain('whoami');
    // Never a token or code in the output.
    expect(login.stdout()).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(login.stdout()).not.toMatch(/"(access_token|refresh_token|code)":/);

    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json'], env);
    expect(await call.exit).toBe(0);
    const whoami = call.lines.at(-1)!;
    expect(whoami.step).toBe('result');
    expect(whoami.structuredContent).toMatchObject({
      subject: '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11',
      email: 'alice@example.com',
      name: 'alice',
    });
  });

  it('logs bob in separately and whoami answers with bob', async () => {
    const { env } = await loginWithCli(DEMO_USERS.bob);
    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json'], env);
    expect(await call.exit).toBe(0);
    expect(call.lines.at(-1)!.structuredContent).toMatchObject({ email: 'bob@example.com', name: 'bob' });
  });
});

describe('audience binding', () => {
  it('refuses, with 401 invalid_token, a token the same auth server issued for another resource', async () => {
    const otherResource = stack.extraResources[0]!;
    const { tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: otherResource, user: DEMO_USERS.alice });
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(response.status).toBe(401);
    const header = response.headers.get('www-authenticate')!;
    expect(header).toContain('error="invalid_token"');
    expect(header).toContain('error_description="The access token was issued for another resource."');
    expect(header).toContain(`resource_metadata="${stack.resourceMetadataUrl}"`);
  });
});
