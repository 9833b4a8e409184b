/**
 * In containers the auth server's public issuer (http://localhost:4000) is not reachable from
 * the resource server: AUTH_SERVER_INTERNAL_URL carries the metadata and JWKS requests while
 * tokens keep the public `iss`. Here the public issuer is a host that does not resolve
 * (auth.example.test), so only the internal URL can work. Real auth server, real resource
 * server; the token comes from client_credentials (no browser needs to reach the public name).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig as loadAuthConfig } from '../../auth-server/src/config.ts';
import { startAuthServer } from '../../auth-server/src/server.ts';
import { freePort } from '../../test-support/ports.ts';
import { loadConfig } from '../src/config.ts';
import { startResourceServer } from '../src/server.ts';
import { mcp } from './helpers.ts';

const silent = pino({ level: 'silent' });
const SECRET = 'machine-client-secret-0123456789';
let dir: string;
let closers: Array<() => Promise<void>> = [];
let internal: string;
let mcpUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'internal-url-'));
  const clientsFile = join(dir, 'clients.yaml');
  await writeFile(
    clientsFile,
    ['clients:', '  - client_id: nightly-report', `    client_secret: ${SECRET}`, '    grant_types: [client_credentials]'].join('\n'),
  );
  const [asPort, rsPort] = [await freePort(), await freePort()];
  internal = `http://127.0.0.1:${asPort}`;
  const publicIssuer = `http://auth.example.test:${asPort}`;
  mcpUrl = `http://127.0.0.1:${rsPort}/mcp`;

  const authServer = await startAuthServer(
    loadAuthConfig({
      ISSUER: publicIssuer,
      PORT: String(asPort),
      RESOURCE_URL: mcpUrl,
      CLIENTS_FILE: clientsFile,
      KEYS_FILE: join(dir, 'keys.json'),
      IDP_CLIENT_SECRET: 'unused',
      IDP_ISSUER: 'http://127.0.0.1:9/dex',
      STORE: 'memory',
    }),
    { logger: silent },
  );
  const resourceServer = await startResourceServer(
    loadConfig({
      RESOURCE_URL: mcpUrl,
      PORT: String(rsPort),
      AUTH_SERVER_ISSUER: publicIssuer,
      AUTH_SERVER_INTERNAL_URL: internal,
      LOG_LEVEL: 'silent',
      STORE: 'memory',
    }),
    silent,
  );
  closers = [() => resourceServer.close(), () => authServer.close()];
});
afterAll(async () => {
  for (const close of closers) await close();
  await rm(dir, { recursive: true, force: true });
});

describe('AUTH_SERVER_INTERNAL_URL', () => {
  it('verifies tokens whose issuer is the public URL, fetching metadata and keys internally', async () => {
    const response = await fetch(`${internal}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`nightly-report:${SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: mcpUrl }),
    });
    expect(response.status).toBe(200);
    const { access_token: token } = (await response.json()) as { access_token: string };

    const whoami = await mcp(mcpUrl, { token, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    expect(whoami.status).toBe(200);
    expect(JSON.stringify(whoami.body)).toContain('nightly-report');
    expect((await fetch(new URL('/readyz', mcpUrl))).status).toBe(200);
  });
});
