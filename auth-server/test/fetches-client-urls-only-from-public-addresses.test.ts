/**
 * Every URL the auth server fetches because a client named it goes through one guard: the
 * host is resolved and a non-public address is refused before any connection (so a port scan
 * through registration learns nothing), the connection is pinned to the checked address, and
 * redirects are not followed. Metadata fields that would make the server fetch a URL a
 * self-registered client chose (sector_identifier_uri; jwks_uri, where such a client
 * registers its keys inline) are refused at registration, even with the development switch
 * that lets metadata documents on loopback through.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientUrlFetch } from '../src/policies/outbound-fetch.ts';
import { startDocumentServer, type DocumentServer } from '../../test-support/https-document-server.ts';
import { authorizationUrl, pkce, registerClient } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { startStack, type Stack } from '../../test-support/stack.ts';

/** A TCP listener on loopback that only counts connections: the "internal service" being probed. */
async function startProbeTarget() {
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let stack: Stack; // CIMD_ALLOW_LOOPBACK=true: the widest configuration
let documents: DocumentServer;
let target: Awaited<ReturnType<typeof startProbeTarget>>;
const silent = pino({ level: 'silent' });

beforeAll(async () => {
  [documents, target] = await Promise.all([startDocumentServer(), startProbeTarget()]);
  stack = await startStack({ authServerEnv: { CIMD_ALLOW_LOOPBACK: 'true', RATE_LIMIT_REGISTRATION: '1000' }, cimdCa: documents.ca });
});
afterAll(async () => {
  await Promise.allSettled([stack?.close(), documents?.close(), target?.close()]);
});

describe('registration fields that would make the server fetch a URL', () => {
  it.each([
    ['sector_identifier_uri', { sector_identifier_uri: 'SECTOR' }],
    ['sector_identifier_uri with pairwise subjects', { sector_identifier_uri: 'SECTOR', subject_type: 'pairwise' }],
    ['jwks_uri', { jwks_uri: 'SECTOR' }],
    ['jwks_uri with private_key_jwt', { jwks_uri: 'SECTOR', token_endpoint_auth_method: 'private_key_jwt' }],
  ])('refuses %s with invalid_client_metadata and never connects', async (_name, fields) => {
    const url = `https://127.0.0.1:${target.port}/probe`;
    const metadata = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, value === 'SECTOR' ? url : value]));
    const before = target.connections();
    const { status, body } = await registerClient(stack.authServerIssuer, {
      ...metadata,
      application_type: 'web',
      redirect_uris: ['https://app.example.com/cb'],
    });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client_metadata');
    expect(target.connections()).toBe(before);
  });
});

describe('the outbound guard', () => {
  it.each([
    ['loopback', (port: number) => `https://127.0.0.1:${port}/jwks`],
    ['localhost', (port: number) => `https://localhost:${port}/jwks`],
    ['IPv4-mapped loopback', (port: number) => `https://[::ffff:127.0.0.1]:${port}/jwks`],
  ])('refuses a %s address without connecting', async (_name, at) => {
    const fetch = clientUrlFetch({ allowLoopback: false, logger: silent });
    const before = target.connections();
    await expect(fetch(at(target.port), { method: 'GET' })).rejects.toThrow(/was not contacted/);
    expect(target.connections()).toBe(before);
  });

  it('refuses a private address even with the development switch', async () => {
    const fetch = clientUrlFetch({ allowLoopback: true, logger: silent });
    await expect(fetch('https://10.0.0.7/jwks', { method: 'GET' })).rejects.toThrow(/non-public address/);
  });

  it('does not follow a redirect from an allowed host to another address', async () => {
    const redirector: Server = createHttpServer((_request, response) => {
      response.writeHead(302, { location: `http://127.0.0.1:${target.port}/internal` }).end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    try {
      const fetch = clientUrlFetch({ allowLoopback: true, logger: silent });
      const before = target.connections();
      const response = await fetch(`http://127.0.0.1:${(redirector.address() as AddressInfo).port}/jwks`, { method: 'GET' });
      expect(response.status).toBe(302);
      expect(target.connections()).toBe(before);
    } finally {
      redirector.close();
    }
  });
});

describe('Client ID Metadata Document ids', () => {
  it('refuses an id without a path, without fetching the site', async () => {
    const requestsBefore = documents.requests.length;
    const url = authorizationUrl(stack.authServerIssuer, {
      client_id: documents.origin,
      redirect_uri: 'http://127.0.0.1:8976/callback',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    const page = await new ScriptedBrowser().open(url, { stopAt: (next) => !next.startsWith(stack.authServerIssuer) });
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_client');
    expect(documents.requests.length).toBe(requestsBefore);
  });
});
