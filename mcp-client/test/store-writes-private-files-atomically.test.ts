import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, canonicalResource, configDir, issuerFileName } from '../src/store.ts';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcp-client-store-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const tokens = {
  access_token: 'AT-secret',
  token_type: 'Bearer',
  refresh_token: 'RT-secret',
  scope: 'mcp:tools',
  expires_at: Date.now() + 3_600_000,
  obtained_at: new Date().toISOString(),
};

describe('the credential store', () => {
  it('creates its directory 0700 and writes 0600 files, leaving no temporary files', async () => {
    const dir = join(base, 'nested', 'mcp-client');
    const store = new Store(dir);
    await store.saveClient('http://127.0.0.1:4000', { client_id: 'c1', source: 'dcr', saved_at: new Date().toISOString() });
    await store.saveTokens('http://127.0.0.1:4000', { resource: 'http://127.0.0.1:3000/mcp', server_url: 'http://127.0.0.1:3000/mcp', tokens });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const names = await readdir(dir);
    expect(names).toEqual([issuerFileName('http://127.0.0.1:4000')]);
    const file = join(dir, names[0] ?? '');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const content = JSON.parse(await readFile(file, 'utf8'));
    expect(content).toMatchObject({
      version: 1,
      issuer: 'http://127.0.0.1:4000',
      client: { client_id: 'c1', source: 'dcr' },
      resources: { 'http://127.0.0.1:3000/mcp': { resource: 'http://127.0.0.1:3000/mcp', tokens: { access_token: 'AT-secret' } } },
    });
  });

  it('keeps one file per issuer and finds tokens by server URL', async () => {
    const store = new Store(base);
    await store.saveTokens('http://a.example', {
      resource: 'http://127.0.0.1:3000/mcp',
      server_url: 'http://127.0.0.1:3000/mcp',
      tokens: { ...tokens, obtained_at: '2026-01-01T00:00:00.000Z' },
    });
    await store.saveTokens('http://b.example/tenant', {
      resource: 'http://127.0.0.1:3000/mcp',
      server_url: 'http://127.0.0.1:3000/mcp',
      tokens: { ...tokens, obtained_at: '2026-02-01T00:00:00.000Z' },
    });
    expect((await readdir(base)).sort()).toEqual([issuerFileName('http://a.example'), issuerFileName('http://b.example/tenant')].sort());
    const found = await store.findByServer('HTTP://127.0.0.1:3000/mcp/');
    expect(found?.issuer).toBe('http://b.example/tenant'); // the most recent wins
    expect(await store.deleteTokens('http://b.example/tenant', 'http://127.0.0.1:3000/mcp')).toBe(true);
    expect((await store.findByServer('http://127.0.0.1:3000/mcp'))?.issuer).toBe('http://a.example');
  });

  it('derives safe file names from any issuer', () => {
    for (const issuer of ['http://localhost:4000', 'https://x.example/../../etc/passwd', 'not a url / at all', `https://${'a'.repeat(300)}.example`]) {
      const name = issuerFileName(issuer);
      expect(name).toMatch(/^[a-z0-9_]{1,48}-[0-9a-f]{16}\.json$/);
    }
    expect(issuerFileName('http://localhost:4000')).not.toBe(issuerFileName('http://localhost:4000/'));
  });

  it('is located by MCP_CLIENT_CONFIG_DIR, else XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configDir({ MCP_CLIENT_CONFIG_DIR: '/x/y' })).toBe('/x/y');
    expect(configDir({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/mcp-client');
    expect(configDir({ HOME: '/home/u' })).toBe('/home/u/.config/mcp-client');
  });

  it('canonicalises resources for lookup only (case of scheme/host, trailing slash)', () => {
    expect(canonicalResource('HTTP://LocalHost:3000/mcp/')).toBe('http://localhost:3000/mcp');
    expect(canonicalResource('https://x.example/')).toBe('https://x.example');
    expect(canonicalResource('https://x.example:443/mcp#frag')).toBe('https://x.example/mcp');
  });
});
