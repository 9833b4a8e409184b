/**
 * The three assertion-based modes of the CLI against the real components (test-support/stack.ts:
 * dev-idp, auth-server, resource-server on loopback), the real CLI as a child process:
 *
 * - --client-key: a machine client registered in CLIENTS_FILE by its public key (private_key_jwt);
 * - --workload-token-file: a workload's service-account token, signed by a stand-in for the
 *   Kubernetes API server's token issuer (test-support/assertion-issuer.ts), trusted through
 *   WORKLOAD_ISSUERS_FILE;
 * - --enterprise-idp: alice signs in at dev-idp as its enterprise client, the CLI exchanges her
 *   ID token there for an ID-JAG and redeems it at the auth server (ENTERPRISE_IDPS_FILE).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAssertionIssuer } from '../../test-support/assertion-issuer.ts';
import type { AssertionIssuer } from '../../test-support/assertion-issuer.ts';
import { authorizeInBrowser } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack } from '../../test-support/stack.ts';
import type { Stack } from '../../test-support/stack.ts';
import { runCli } from './fixtures/cli.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const MACHINE = 'cli-keyed-machine';
const WORKLOAD = 'reporting-workload';
const WORKLOAD_SUBJECT = 'system:serviceaccount:mcp:reporter';
const ENTERPRISE = { atIdp: 'mcp-client-enterprise', atAs: 'mcp-enterprise-client', secret: 'enterprise-client-secret-for-the-cli-test' };
const ALICE_SUB = '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11';

const machineKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let stack: Stack;
let kubernetesApiServer: AssertionIssuer;
let dir: string;

beforeAll(async () => {
  kubernetesApiServer = await startAssertionIssuer();
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-assertion-e2e-'));
  stack = await startStack({
    tokenExchange: true,
    extraClients: [
      {
        client_id: MACHINE,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(machineKey.publicKey.export({ format: 'jwk' }) as JWK), use: 'sig' }] },
        grant_types: ['client_credentials'],
      },
      { client_id: WORKLOAD, token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER] },
      { client_id: ENTERPRISE.atAs, client_secret: ENTERPRISE.secret, grant_types: [JWT_BEARER] },
    ],
    enterpriseClients: { [ENTERPRISE.atIdp]: ENTERPRISE.atAs },
    workloadIssuers: [
      { issuer: kubernetesApiServer.issuer, jwks_uri: kubernetesApiServer.jwksUri, subjects: [WORKLOAD_SUBJECT], client_id: WORKLOAD, scopes: ['mcp:tools'] },
    ],
  });
});
afterAll(async () => {
  await Promise.allSettled([stack?.close(), kubernetesApiServer?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function configDir(): Promise<Record<string, string>> {
  return { MCP_CLIENT_CONFIG_DIR: await mkdtemp(join(dir, 'config-')) };
}

describe('the CLI against the real auth server', () => {
  it('gets a client_credentials token authenticated by private_key_jwt, and calls whoami', async () => {
    const keyFile = join(dir, 'machine-key.pem');
    const pem = machineKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await writeFile(keyFile, pem, { mode: 0o600 });
    const run = runCli(['call', stack.mcpUrl, 'whoami', '--json', '--client-credentials', '--client-id', MACHINE, '--client-key', keyFile], await configDir());
    expect(await run.exit, run.stdout() + run.stderr()).toBe(0);
    expect(run.lines.find((l) => l['step'] === 'client_authentication')).toMatchObject({
      method: 'private_key_jwt',
      alg: 'ES256',
      audience: stack.authServerIssuer,
    });
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({ grantType: 'client_credentials', authMethod: 'private_key_jwt' });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', isError: false, structuredContent: expect.objectContaining({ clientId: MACHINE }) });
    for (const line of pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(run.stdout() + run.stderr()).not.toContain(line);
  });

  it('redeems a workload’s service-account token with the JWT bearer grant, and calls whoami', async () => {
    const tokenFile = join(dir, 'workload-token');
    const token = await kubernetesApiServer.sign({ sub: WORKLOAD_SUBJECT, aud: stack.authServerIssuer });
    await writeFile(tokenFile, token);
    const run = runCli(['call', stack.mcpUrl, 'whoami', '--json', '--workload-token-file', tokenFile, '--client-id', WORKLOAD], await configDir());
    expect(await run.exit, run.stdout() + run.stderr()).toBe(0);
    expect(run.lines.find((l) => l['step'] === 'token')).toMatchObject({
      grantType: JWT_BEARER,
      assertion: 'workload',
      authMethod: 'none',
      scope: 'mcp:tools',
      // The stack offers DPoP on both sides: the workload's token is bound to the CLI's key.
      tokenType: 'DPoP',
      dpopJkt: expect.any(String),
    });
    expect(run.lines.find((l) => l['step'] === 'mcp_connect')).toMatchObject({ dpopJkt: expect.any(String) });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', isError: false, structuredContent: expect.objectContaining({ clientId: WORKLOAD }) });
    expect(run.stdout() + run.stderr()).not.toContain(token);
  });

  it('shows the auth server’s refusal of a workload token for another audience, once, with exit 1', async () => {
    const tokenFile = join(dir, 'wrong-audience-token');
    await writeFile(tokenFile, await kubernetesApiServer.sign({ sub: WORKLOAD_SUBJECT, aud: 'https://another-as.example' }));
    const run = runCli(['call', stack.mcpUrl, 'whoami', '--json', '--workload-token-file', tokenFile, '--client-id', WORKLOAD], await configDir());
    expect(await run.exit).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'invalid_grant' });
    expect(run.lines.filter((l) => l['step'] === 'token')).toEqual([expect.objectContaining({ error: 'invalid_grant', retried: false })]);
    expect(run.lines.some((l) => l['step'] === 'authorization_url')).toBe(false);
  });

  it('signs alice in at the enterprise IdP, redeems the ID-JAG it issues, and calls whoami as alice', async () => {
    const env = { ...(await configDir()), MCP_CLIENT_SECRET: ENTERPRISE.secret };
    const login = runCli(
      [
        'login',
        stack.mcpUrl,
        '--json',
        '--no-browser',
        '--timeout',
        '60',
        '--enterprise-idp',
        stack.idpIssuer,
        '--idp-client-id',
        ENTERPRISE.atIdp,
        '--client-id',
        ENTERPRISE.atAs,
      ],
      env,
    );
    const shown = await login.waitFor('authorizationUrl');
    expect(shown).toMatchObject({ at: 'enterprise_idp', issuer: stack.idpIssuer });
    const browser = new ScriptedBrowser();
    const { callback } = await authorizeInBrowser(browser, String(shown['authorizationUrl']), {
      redirectUri: String(shown['redirectUri']),
      user: DEMO_USERS.alice,
    });
    expect((await browser.open(callback.href)).status).toBe(200);
    expect(await login.exit, login.stdout() + login.stderr()).toBe(0);
    expect(login.lines.find((l) => l['step'] === 'token_exchange')).toMatchObject({
      audience: stack.authServerIssuer,
      resource: stack.mcpUrl,
      clientId: ENTERPRISE.atAs,
    });
    expect(login.lines.find((l) => l['step'] === 'token')).toMatchObject({
      grantType: JWT_BEARER,
      assertion: 'id-jag',
      authMethod: 'client_secret_basic',
      tokenType: 'DPoP',
      dpopJkt: expect.any(String),
    });
    expect(login.stdout()).not.toMatch(/eyJ[\w-]+\.eyJ/);

    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json'], env);
    expect(await call.exit).toBe(0);
    expect(call.lines.at(-1)).toMatchObject({ step: 'result', structuredContent: expect.objectContaining({ subject: ALICE_SUB }) });
  });
});
