/**
 * The CLI listens on a redirect URI its client is registered with, whoever registered it:
 * a registration stored by an older mcp-client (no port) is moved to the exact URI; a
 * pre-registered client uses the --redirect-uri its operator registered; a Client ID
 * Metadata Document client uses a redirect URI its document lists. Against real servers:
 * oidc-provider comparing redirect URIs exactly (fixtures/field-authorization-server.ts),
 * and this project's stack for the metadata document.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDocumentServer } from '../../test-support/https-document-server.ts';
import type { DocumentServer } from '../../test-support/https-document-server.ts';
import { authorizeInBrowser } from '../../test-support/oauth-flow.ts';
import { freePort } from '../../test-support/ports.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack } from '../../test-support/stack.ts';
import type { Stack } from '../../test-support/stack.ts';
import { Store } from '../src/store.ts';
import { runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';
import { signInAndConsent, startFieldStack } from './fixtures/field-authorization-server.ts';
import type { FieldStack } from './fixtures/field-authorization-server.ts';

const dirs: string[] = [];
async function configDir(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-client-listens-'));
  dirs.push(dir);
  return { MCP_CLIENT_CONFIG_DIR: dir };
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Runs a login; the user completes the authorization with `complete`. */
async function login(
  args: string[],
  env: Record<string, string>,
  complete: (url: string, redirectUri: string) => Promise<unknown>,
): Promise<{ run: CliRun; code: number }> {
  const run = runCli(['login', ...args, '--no-browser', '--json', '--timeout', '30'], env);
  const authorize = await run.waitFor('authorizationUrl').catch(() => undefined);
  if (authorize) {
    await complete(String(authorize.authorizationUrl), String(authorize.redirectUri)).catch((error: unknown) => {
      run.child.kill();
      throw error;
    });
  }
  return { run, code: await run.exit };
}

const registration = (run: CliRun) => run.lines.find((line) => line.step === 'registration');

describe('at an authorization server that compares redirect URIs exactly', () => {
  let stack: FieldStack;
  let operatorPort: number;
  beforeAll(async () => {
    operatorPort = await freePort();
    stack = await startFieldStack({
      redirectUris: 'exact',
      registrationManagement: true,
      clients: [
        {
          client_id: 'operator-cli',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [`http://127.0.0.1:${operatorPort}/callback`],
        },
      ],
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('loads a store file an older mcp-client wrote (registered without a port) and registers the exact URI', async () => {
    // What the previous mcp-client stored after its DCR: the portless loopback URI, no RFC 7592 credentials.
    const response = await fetch(`${stack.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'mcp-client',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
    });
    const old = (await response.json()) as { client_id: string };
    const env = await configDir();
    const file = new Store(env.MCP_CLIENT_CONFIG_DIR).pathFor(stack.issuer);
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        issuer: stack.issuer,
        client: {
          client_id: old.client_id,
          redirect_uris: ['http://127.0.0.1/callback'],
          token_endpoint_auth_method: 'none',
          source: 'dcr',
          saved_at: '2026-11-01T10:00:00.000Z',
        },
        resources: {},
      }),
      { mode: 0o600 },
    );

    const { run, code } = await login([stack.mcpUrl], env, signInAndConsent);
    expect(code, run.stderr()).toBe(0);
    const step = registration(run)!;
    expect(step).toMatchObject({ action: 'registered', replaces: old.client_id });
    expect(String(step.reason)).toContain('registered without a port');
    const saved = JSON.parse(await readFile(file, 'utf8')) as { client: { client_id: string; redirect_uris: string[] } };
    expect(saved.client).toMatchObject({ client_id: step.clientId, redirect_uris: [step.redirectUri] });
  });

  it('listens on the --redirect-uri registered for a pre-registered client, and remembers it', async () => {
    const env = await configDir();
    const redirectUri = `http://127.0.0.1:${operatorPort}/callback`;
    let { run, code } = await login([stack.mcpUrl, '--client-id', 'operator-cli', '--redirect-uri', redirectUri], env, signInAndConsent);
    expect(code, run.stderr()).toBe(0);
    expect(registration(run)).toMatchObject({ source: 'pre-registered', clientId: 'operator-cli', redirectUri });

    // Later runs need no flags: the client and its redirect URI were stored for this issuer.
    ({ run, code } = await login([stack.mcpUrl], env, signInAndConsent));
    expect(code, run.stderr()).toBe(0);
    expect(registration(run)).toMatchObject({ source: 'pre-registered', clientId: 'operator-cli', redirectUri });
  });

  it('says so when the port of a pre-registered redirect URI is taken, instead of sending the browser elsewhere', async () => {
    const env = await configDir();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(operatorPort, '127.0.0.1', resolve));
    try {
      const { run, code } = await login(
        [stack.mcpUrl, '--client-id', 'operator-cli', '--redirect-uri', `http://127.0.0.1:${operatorPort}/callback`],
        env,
        signInAndConsent,
      );
      expect(code).toBe(1);
      expect(run.lines.at(-1)).toMatchObject({ step: 'error', error: 'port_in_use', message: expect.stringContaining(String(operatorPort)) });
      expect(run.lines.some((line) => line.step === 'authorization_url')).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('with a Client ID Metadata Document', () => {
  let stack: Stack;
  let documents: DocumentServer;
  let caFile: string;
  beforeAll(async () => {
    documents = await startDocumentServer();
    stack = await startStack({ authServerEnv: { CIMD_ALLOW_LOOPBACK: 'true' }, cimdCa: documents.ca, authServerStorage: 'memory' });
    const dir = await mkdtemp(join(tmpdir(), 'mcp-client-cimd-ca-'));
    dirs.push(dir);
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, documents.ca);
  });
  afterAll(async () => {
    await Promise.allSettled([stack?.close(), documents?.close()]);
  });

  it('listens on a redirect URI the document lists', async () => {
    const listed = `http://127.0.0.1:${await freePort()}/oauth/callback`;
    const clientId = `${documents.origin}/clients/cli.json`;
    documents.documents.set('/clients/cli.json', {
      body: {
        client_id: clientId,
        client_name: 'mcp-client (CIMD)',
        redirect_uris: [listed],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    });
    // The CLI reads the user's own document over HTTPS: trust the test certificate.
    const env = { ...(await configDir()), NODE_EXTRA_CA_CERTS: caFile };
    const { run, code } = await login([stack.mcpUrl, '--client-metadata-url', clientId], env, async (url, redirectUri) => {
      const browser = new ScriptedBrowser();
      const { callback } = await authorizeInBrowser(browser, url, { redirectUri, user: DEMO_USERS.alice });
      expect((await browser.open(callback.href)).status).toBe(200);
    });
    expect(code, run.stderr()).toBe(0);
    expect(run.lines.find((line) => line.step === 'client_metadata_document')).toMatchObject({ redirectUris: [listed] });
    expect(registration(run)).toMatchObject({ source: 'cimd', clientId, redirectUri: listed });
    expect(run.lines.find((line) => line.step === 'authorization_url')).toMatchObject({ redirectUri: listed });
  });
});
