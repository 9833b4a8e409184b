/**
 * 2025-03-26 discovery is a fallback for servers that have no protected resource metadata at
 * all, and stays strict: a challenge that names metadata which fails, or a well-known URL
 * that fails with 5xx, is an error (no guessing); at the origin, metadata naming another
 * issuer, or PKCE methods without S256, or a failing metadata endpoint stops the login before
 * anything is registered. Small stand-in servers (one origin each), the real CLI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './fixtures/cli.ts';
import { listen, sendJson } from './fixtures/servers.ts';
import type { Running } from './fixtures/servers.ts';

interface StandIn {
  /** GET /.well-known/oauth-protected-resource[/mcp]: a status, or undefined for 404. */
  prmStatus?: number;
  /** The 401's challenge, given the origin. */
  challenge?: (origin: string) => string;
  /** GET /.well-known/oauth-authorization-server: the document (with `issuer` defaulting to the origin), or a status. */
  metadata?: Record<string, unknown> | number;
}

let server: Running | undefined;
let configDir: string;
let seen: string[];

beforeEach(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'mcp-client-legacy-strict-'));
  seen = [];
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(configDir, { recursive: true, force: true });
});

/** One origin with a protected /mcp and what `s` says about metadata; records `METHOD path` of every request. */
async function standIn(s: StandIn): Promise<string> {
  server = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push(`${req.method} ${path}`);
    if (path === '/mcp') {
      res.writeHead(401, { 'www-authenticate': s.challenge?.(server!.origin) ?? 'Bearer', 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (path.startsWith('/.well-known/oauth-protected-resource')) return sendJson(res, s.prmStatus ?? 404, {});
    if (path === '/.well-known/oauth-authorization-server' && s.metadata !== undefined) {
      if (typeof s.metadata === 'number') return sendJson(res, s.metadata, { error: 'server_error' });
      return sendJson(res, 200, {
        issuer: server!.origin,
        authorization_endpoint: `${server!.origin}/authorize`,
        token_endpoint: `${server!.origin}/token`,
        registration_endpoint: `${server!.origin}/register`,
        response_types_supported: ['code'],
        ...s.metadata,
      });
    }
    sendJson(res, 404, { error: 'not_found' });
  });
  return `${server.origin}/mcp`;
}

async function login(url: string) {
  const run = runCli(['login', url, '--json', '--no-browser', '--timeout', '5'], { MCP_CLIENT_CONFIG_DIR: configDir });
  const code = await run.exit;
  return { run, code, error: run.lines.at(-1)! };
}

describe('the fallback happens only without any protected resource metadata', () => {
  it('not when the challenge names a resource_metadata URL that fails', async () => {
    const url = await standIn({ challenge: (origin) => `Bearer resource_metadata="${origin}/custom/prm"` });
    const { code, error } = await login(url);
    expect(code).toBe(1);
    expect(error).toMatchObject({ step: 'error', error: 'no_resource_metadata', hint: expect.stringContaining('resource_metadata URL in the challenge') });
    expect(seen).toContain('GET /custom/prm');
    expect(seen).not.toContain('GET /.well-known/oauth-authorization-server');
  });

  it('not when a well-known URL fails with 500', async () => {
    const url = await standIn({ prmStatus: 500 });
    const { code, error } = await login(url);
    expect(code).toBe(1);
    expect(error).toMatchObject({ step: 'error', error: 'no_resource_metadata', message: expect.stringContaining('500') });
    expect(seen).not.toContain('GET /.well-known/oauth-authorization-server');
  });
});

describe('under 2025-03-26 discovery the rules stay', () => {
  it('refuses metadata at the origin that names another issuer, before registering', async () => {
    const url = await standIn({ metadata: { issuer: 'https://elsewhere.example' } });
    const { run, code, error } = await login(url);
    expect(code).toBe(1);
    expect(error).toMatchObject({ step: 'error', error: 'issuer_mismatch', message: expect.stringContaining("the MCP server's origin") });
    expect(run.lines.find((l) => l.step === 'authorization_server_metadata')).toMatchObject({
      discovery: 'legacy-2025-03-26',
      deviations: expect.arrayContaining(['as.issuer']),
    });
    expect(seen).not.toContain('POST /register');
  });

  it('refuses an authorization server that lists PKCE methods without S256, and never sends plain', async () => {
    const url = await standIn({ metadata: { code_challenge_methods_supported: ['plain'] } });
    const { code, error } = await login(url);
    expect(code).toBe(1);
    expect(error).toMatchObject({ step: 'error', error: 'pkce_unsupported' });
    expect(seen).not.toContain('POST /register');
    expect(seen.some((s) => s.includes('/authorize'))).toBe(false);
  });

  it('does not fall back to the default endpoints when the metadata endpoint fails with 500', async () => {
    const url = await standIn({ metadata: 500 });
    const { code, error } = await login(url);
    expect(code).toBe(1);
    expect(error).toMatchObject({ step: 'error', error: 'invalid_as_metadata', message: expect.stringContaining('500') });
    expect(seen).not.toContain('POST /register');
  });
});
