/**
 * Registration, every branch, against small real authorization servers on loopback:
 * pre-registered (bound to its issuer) → Client ID Metadata Document (when the AS
 * supports it) → stored DCR registration for this issuer → DCR → a clear refusal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { discoverAuthorizationServer } from '../src/flow/discover.ts';
import { checkClientMetadataUrl, ensureClient as ensure, plannedRegistration } from '../src/flow/register.ts';
import type { EnsureClientOptions } from '../src/flow/register.ts';
import { Store } from '../src/store.ts';
import { Trace } from '../src/trace.ts';
import { startFakeAs } from './fixtures/servers.ts';
import type { FakeAs, FakeAsOptions } from './fixtures/servers.ts';

const CIMD = 'https://client.example/mcp-client.json';
const trace = () => new Trace({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() });

/** ensureClient with this attempt's callback checks; every callback server it opens is closed after the test. */
const callbacks: { close(): Promise<void> }[] = [];
async function ensureClient(options: Omit<EnsureClientOptions, 'expect'>) {
  const result = await ensure({ ...options, expect: { state: 'state', expectedIssuer: options.issuer, issParameterSupported: true, timeoutMs: 10_000 } });
  callbacks.push(result.callback);
  return result;
}

const servers: FakeAs[] = [];
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-client-branches-'));
});
afterEach(async () => {
  await Promise.all(callbacks.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function as(options: FakeAsOptions = {}) {
  const server = await startFakeAs(options);
  servers.push(server);
  const { metadata } = await discoverAuthorizationServer(server.issuer, trace());
  return { server, metadata };
}

describe('choosing a client identity at an authorization server', () => {
  it('uses the Client ID Metadata Document URL as client_id when the AS supports it, without registering', async () => {
    const { server, metadata } = await as({ cimdSupported: true });
    const store = new Store(dir);
    const result = await ensureClient({ store, issuer: server.issuer, metadata, clientMetadataUrl: CIMD, trace: trace() });
    expect(result).toMatchObject({ source: 'cimd', client: { client_id: CIMD } });
    expect(server.requests.some((r) => r.path === '/register')).toBe(false);
    expect((await store.read(server.issuer)).client).toMatchObject({ client_id: CIMD, source: 'cimd' });
  });

  it('falls back to DCR when the AS does not advertise CIMD support, even with a document URL', async () => {
    const { server, metadata } = await as();
    const result = await ensureClient({ store: new Store(dir), issuer: server.issuer, metadata, clientMetadataUrl: CIMD, trace: trace() });
    expect(result).toMatchObject({ source: 'dcr', client: { client_id: 'client-1' } });
    expect(server.registrations).toHaveLength(1);
  });

  it('prefers pre-registered credentials over CIMD and DCR', async () => {
    const { server, metadata } = await as({ cimdSupported: true });
    const result = await ensureClient({
      store: new Store(dir),
      issuer: server.issuer,
      metadata,
      clientMetadataUrl: CIMD,
      preRegistered: { clientId: 'given', clientSecret: 's3cret' },
      trace: trace(),
    });
    expect(result).toMatchObject({ source: 'pre-registered', client: { client_id: 'given' } });
    expect(server.registrations).toHaveLength(0);
  });

  it('never sends pre-registered credentials to an AS other than the one named by --issuer', async () => {
    const { server, metadata } = await as();
    await expect(
      ensureClient({
        store: new Store(dir),
        issuer: server.issuer,
        metadata,
        preRegistered: { clientId: 'given', clientSecret: 's3cret', issuer: 'https://as.example' },
        trace: trace(),
      }),
    ).rejects.toMatchObject({ code: 'issuer_mismatch', message: expect.stringContaining('https://as.example') });
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
    expect((await new Store(dir).read(server.issuer)).client).toBeUndefined();
  });

  it('keys registrations by issuer: a client registered at one AS is not used at another, which gets its own', async () => {
    const first = await as({ clientIdPrefix: 'as1' });
    const second = await as({ clientIdPrefix: 'as2' });
    const store = new Store(dir);
    const one = await ensureClient({ store, issuer: first.server.issuer, metadata: first.metadata, trace: trace() });
    const two = await ensureClient({ store, issuer: second.server.issuer, metadata: second.metadata, trace: trace() });
    expect(one.client.client_id).toBe('as1-1');
    expect(two).toMatchObject({ source: 'dcr', client: { client_id: 'as2-1' } });
    expect(second.server.registrations).toHaveLength(1);
    // Back at the first AS (its earlier login finished), its own stored registration is reused.
    await one.callback.close();
    expect(await ensureClient({ store, issuer: first.server.issuer, metadata: first.metadata, trace: trace() })).toMatchObject({
      source: 'stored',
      client: { client_id: 'as1-1' },
    });
  });

  it('registers by DCR when a stored CIMD client id is no longer accepted by the AS', async () => {
    const { server, metadata } = await as();
    const store = new Store(dir);
    await store.saveClient(server.issuer, { client_id: CIMD, source: 'cimd', saved_at: new Date().toISOString() });
    expect(await ensureClient({ store, issuer: server.issuer, metadata, trace: trace() })).toMatchObject({ source: 'dcr' });
  });

  it('with neither DCR nor a usable CIMD URL, says which flag to pass', async () => {
    const { server, metadata } = await as({ registration: 'absent', cimdSupported: true });
    await expect(ensureClient({ store: new Store(dir), issuer: server.issuer, metadata, trace: trace() })).rejects.toMatchObject({
      code: 'registration_unavailable',
      hint: expect.stringContaining('--client-metadata-url'),
    });
    expect(plannedRegistration({ issuer: server.issuer, metadata, stored: undefined })).toMatchObject({ source: 'unavailable' });
    expect(plannedRegistration({ issuer: server.issuer, metadata, stored: undefined, clientMetadataUrl: CIMD })).toMatchObject({
      source: 'cimd',
      clientId: CIMD,
    });
  });

  it('accepts only https document URLs with a path as --client-metadata-url', () => {
    expect(checkClientMetadataUrl(CIMD)).toBe(CIMD);
    expect(() => checkClientMetadataUrl('http://client.example/mcp-client.json')).toThrow(/https URL with a path/);
    expect(() => checkClientMetadataUrl('https://client.example/')).toThrow(/https URL with a path/);
    expect(() => checkClientMetadataUrl('not a url')).toThrow(/https URL with a path/);
  });
});
