import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { discoverAuthorizationServer } from '../src/flow/discover.ts';
import { ensureClient as ensure } from '../src/flow/register.ts';
import type { EnsureClientOptions } from '../src/flow/register.ts';
import { Store } from '../src/store.ts';
import { Trace } from '../src/trace.ts';
import { startFakeAs } from './fixtures/servers.ts';
import type { FakeAs } from './fixtures/servers.ts';

const trace = () => new Trace({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() });

/** ensureClient with this attempt's callback checks; every callback server it opens is closed after the test. */
const callbacks: { close(): Promise<void> }[] = [];
async function ensureClient(options: Omit<EnsureClientOptions, 'expect'>) {
  const result = await ensure({ ...options, expect: { state: 'state', expectedIssuer: options.issuer, issParameterSupported: true, timeoutMs: 10_000 } });
  callbacks.push(result.callback);
  return result;
}

let as: FakeAs | undefined;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-reg-'));
});
afterEach(async () => {
  await Promise.all(callbacks.splice(0).map((c) => c.close()));
  await as?.close();
  as = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('dynamic client registration (RFC 7591)', () => {
  it('sends the native, public, loopback client metadata the spec asks for', async () => {
    as = await startFakeAs();
    const store = new Store(dir);
    const { metadata } = await discoverAuthorizationServer(as.issuer, trace());
    const result = await ensureClient({ store, issuer: as.issuer, metadata, trace: trace() });
    expect(result.source).toBe('dcr');
    const request = as.requests.find((r) => r.path === '/register');
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toContain('application/json');
    // The exact URI it listens on, port included: most authorization servers compare redirect URIs as strings.
    expect(result.callback.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(JSON.parse(request?.body ?? '{}')).toEqual({
      client_name: 'mcp-client',
      application_type: 'native',
      redirect_uris: [result.callback.redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
  });

  it('stores the registration per issuer and reuses it without registering again', async () => {
    as = await startFakeAs();
    const store = new Store(dir);
    const { metadata } = await discoverAuthorizationServer(as.issuer, trace());
    const first = await ensureClient({ store, issuer: as.issuer, metadata, trace: trace() });
    await first.callback.close();
    const second = await ensureClient({ store, issuer: as.issuer, metadata, trace: trace() });
    expect(second).toMatchObject({ source: 'stored', action: 'reused' });
    expect(second.client.client_id).toBe(first.client.client_id);
    // On the registered port again.
    expect(second.callback.redirectUri).toBe(first.callback.redirectUri);
    expect(as.registrations).toHaveLength(1);
    expect((await store.read(as.issuer)).client).toMatchObject({ client_id: first.client.client_id, source: 'dcr' });
    // Another issuer does not see it.
    expect((await store.read('http://127.0.0.1:1/other')).client).toBeUndefined();
  });

  it('registers again, on another port, while the registered port is taken and the AS offers no update (RFC 7592)', async () => {
    as = await startFakeAs();
    const store = new Store(dir);
    const { metadata } = await discoverAuthorizationServer(as.issuer, trace());
    const first = await ensureClient({ store, issuer: as.issuer, metadata, trace: trace() });
    // first.callback still listens: the port is taken.
    const second = await ensureClient({ store, issuer: as.issuer, metadata, trace: trace() });
    expect(second).toMatchObject({ source: 'dcr', action: 'registered' });
    expect(second.client.client_id).not.toBe(first.client.client_id);
    expect(second.callback.redirectUri).not.toBe(first.callback.redirectUri);
    expect(as.registrations.map((r) => r['redirect_uris'])).toEqual([[first.callback.redirectUri], [second.callback.redirectUri]]);
  });

  it('moves a registration stored without a port (older mcp-client) to the exact URI it listens on', async () => {
    as = await startFakeAs();
    const store = new Store(dir);
    await store.saveClient(as.issuer, {
      client_id: 'old-client',
      redirect_uris: ['http://127.0.0.1/callback'],
      token_endpoint_auth_method: 'none',
      source: 'dcr',
      saved_at: '2026-01-01T00:00:00.000Z',
    });
    const { metadata } = await discoverAuthorizationServer(as.issuer, trace());
    const result = await ensureClient({ store, issuer: as.issuer, metadata, trace: trace() });
    expect(result).toMatchObject({ source: 'dcr', action: 'registered' });
    expect(as.registrations.map((r) => r['redirect_uris'])).toEqual([[result.callback.redirectUri]]);
    expect((await store.read(as.issuer)).client).toMatchObject({ client_id: result.client.client_id, redirect_uris: [result.callback.redirectUri] });
  });

  it('reports a refused registration with the AS error_description', async () => {
    as = await startFakeAs({ registration: 'refuse' });
    const { metadata } = await discoverAuthorizationServer(as.issuer, trace());
    await expect(ensureClient({ store: new Store(dir), issuer: as.issuer, metadata, trace: trace() })).rejects.toMatchObject({
      code: 'registration_refused',
      message: expect.stringMatching(/invalid_redirect_uri.*redirect URIs must be https here/),
    });
  });

  it('without a registration endpoint, asks for a pre-registered client', async () => {
    as = await startFakeAs({ registration: 'absent' });
    const { metadata } = await discoverAuthorizationServer(as.issuer, trace());
    await expect(ensureClient({ store: new Store(dir), issuer: as.issuer, metadata, trace: trace() })).rejects.toMatchObject({
      code: 'registration_unavailable',
      hint: expect.stringContaining('--client-id'),
    });
    const pre = await ensureClient({ store: new Store(dir), issuer: as.issuer, metadata, preRegistered: { clientId: 'given' }, trace: trace() });
    expect(pre).toMatchObject({ source: 'pre-registered', client: { client_id: 'given' } });
  });
});
