/**
 * Client ID Metadata Documents: an HTTPS client id is fetched, checked (client_id equals
 * the URL, redirect URIs), shown on the consent page as verified by its host, and used.
 * Hosts that resolve to loopback (without the development switch), private or link-local
 * addresses are refused before any connection is made.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboundVerdict } from '../src/policies/network.ts';
import { startDocumentServer, type DocumentServer } from '../../test-support/https-document-server.ts';
import { authorizationUrl, authorizeInBrowser, pkce, tokenRequest } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let documents: DocumentServer;
let development: Stack; // CIMD_ALLOW_LOOPBACK=true, trusts the test certificate
let production: Stack; // defaults
const redirectUri = 'http://127.0.0.1:8976/callback';

function metadataDocument(clientId: string, overrides: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: 'CIMD Test App',
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...overrides,
  };
}

beforeAll(async () => {
  documents = await startDocumentServer();
  development = await startStack({ authServerEnv: { CIMD_ALLOW_LOOPBACK: 'true' }, cimdCa: documents.ca });
  production = await startStack();
  const good = `${documents.origin}/clients/good.json`;
  documents.documents.set('/clients/good.json', { body: metadataDocument(good), headers: { 'cache-control': 'max-age=60' } });
  documents.documents.set('/clients/mismatch.json', { body: metadataDocument(`${documents.origin}/clients/someone-else.json`) });
});
afterAll(async () => {
  await Promise.allSettled([development?.close(), production?.close(), documents?.close()]);
});

function authorize(stack: Stack, clientId: string, overrides: Record<string, string> = {}) {
  return authorizationUrl(stack.authServerIssuer, {
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'mcp:tools',
    resource: stack.mcpUrl,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...overrides,
  });
}

async function openWithoutLeaving(stack: Stack, url: string) {
  return new ScriptedBrowser().open(url, { stopAt: (target) => !target.startsWith(stack.authServerIssuer) });
}

describe('Client ID Metadata Documents', () => {
  it('is advertised in the authorization server metadata', async () => {
    const metadata = (await (await fetch(`${production.authServerIssuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.client_id_metadata_document_supported).toBe(true);
  });

  it('logs a user in to a client known only by its document URL, marked verified by that host', async () => {
    const clientId = `${documents.origin}/clients/good.json`;
    const { verifier, challenge } = pkce();
    const { callback, pagesSeen } = await authorizeInBrowser(new ScriptedBrowser(), authorize(development, clientId, { code_challenge: challenge }), {
      redirectUri,
      user: DEMO_USERS.alice,
    });
    const consent = pagesSeen.find((page) => page.url.startsWith(development.authServerIssuer))!;
    expect(consent.text()).toContain('CIMD Test App');
    expect(consent.text()).toContain(`Verified: its details are published by ${new URL(documents.origin).host}`);
    expect(consent.text()).not.toContain('Unverified');

    const tokens = await tokenRequest(development.authServerIssuer, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(String(tokens.body.access_token)).client_id).toBe(clientId);
  });

  it('refuses a document whose client_id is not its own URL', async () => {
    const page = await openWithoutLeaving(development, authorize(development, `${documents.origin}/clients/mismatch.json`));
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_client_metadata');
  });

  it('refuses a redirect URI the document does not list', async () => {
    const page = await openWithoutLeaving(
      development,
      authorize(development, `${documents.origin}/clients/good.json`, { redirect_uri: 'https://attacker.example/cb' }),
    );
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_redirect_uri');
  });

  it('refuses a document on 127.0.0.1 without the development switch, without even connecting', async () => {
    const before = documents.connections();
    const page = await openWithoutLeaving(production, authorize(production, `${documents.origin}/clients/good.json`));
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_client');
    expect(documents.connections()).toBe(before);
  });

  it('refuses a client id on localhost without the development switch', async () => {
    const page = await openWithoutLeaving(production, authorize(production, 'https://localhost/client.json'));
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_client');
  });
});

// Decided from the address alone, before any connection: these cases never leave the machine.
describe('which hosts a client metadata document may be fetched from', () => {
  it.each([
    ['https://169.254.169.254/latest/meta-data/client.json', 'cloud metadata service'],
    ['https://10.0.0.7/client.json', 'private'],
    ['https://192.168.1.20/client.json', 'private'],
    ['https://100.64.0.1/client.json', 'shared address space'],
    ['https://[fd00::1]/client.json', 'unique local IPv6'],
    ['https://[fe80::1]/client.json', 'link-local IPv6'],
    ['https://[::ffff:127.0.0.1]/client.json', 'IPv4-mapped loopback'],
    ['https://127.0.0.1/client.json', 'loopback'],
    ['https://0.0.0.0/client.json', 'unspecified'],
  ])('refuses %s (%s)', async (url) => {
    const verdict = await outboundVerdict(new URL(url), { allowLoopback: false });
    expect(verdict.allowed).toBe(false);
  });

  it('allows loopback only with the development switch, and still no private address', async () => {
    expect(await outboundVerdict(new URL('https://127.0.0.1/c.json'), { allowLoopback: true })).toEqual({
      allowed: true,
      loopback: true,
      addresses: ['127.0.0.1'],
    });
    expect((await outboundVerdict(new URL('https://10.1.2.3/c.json'), { allowLoopback: true })).allowed).toBe(false);
  });

  it('allows a public address', async () => {
    expect(await outboundVerdict(new URL('https://93.184.215.14/client.json'), { allowLoopback: false })).toEqual({
      allowed: true,
      loopback: false,
      addresses: ['93.184.215.14'],
    });
  });
});
