/**
 * The CLI against 2025-03-26-style servers (fixtures/legacy-server.ts: a real oidc-provider
 * and a stand-in MCP endpoint on one origin, no protected resource metadata), with RFC 8414
 * metadata at the origin and without any: the trace shows the fallback and what it assumed;
 * login, a tool call with the stored token, a refresh, a step-up and logout work; PKCE S256
 * and state are always sent, the resource parameter only where the server says it takes it;
 * `doctor` reports the missing protected resource metadata as a deviation. What one such
 * server issued is never presented to another.
 */
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';
import { interactive, step } from './fixtures/interactive.ts';
import { startLegacyServer } from './fixtures/legacy-server.ts';
import type { LegacyServer, LegacyServerOptions } from './fixtures/legacy-server.ts';

function neverPrintsCredentials(run: CliRun): void {
  const out = run.stdout() + run.stderr();
  expect(out).not.toMatch(/eyJ[\w-]+\.eyJ/);
  expect(out).not.toMatch(/"(access_token|refresh_token|registration_access_token|code)":/);
}

/** Lets the stored tokens expire, as time would: the next command must refresh. */
async function expireStoredTokens(configDir: string): Promise<void> {
  for (const name of (await readdir(configDir)).filter((n) => n.endsWith('.json'))) {
    const file = JSON.parse(await readFile(join(configDir, name), 'utf8')) as { resources: Record<string, { tokens: { expires_at?: number } }> };
    for (const entry of Object.values(file.resources)) entry.tokens.expires_at = Date.now() - 60_000;
    await writeFile(join(configDir, name), JSON.stringify(file), { mode: 0o600 });
  }
}

const variants: {
  name: string;
  options: LegacyServerOptions;
  /** The server says it takes the resource parameter. */
  resource: boolean;
  authorizePath: string;
  loginArgs: string[];
  tolerated: string[];
  notTolerated: string[];
}[] = [
  {
    name: 'RFC 8414 metadata at its origin, with resource_indicators_supported',
    options: { metadata: 'rfc8414', resourceIndicators: true },
    resource: true,
    authorizePath: '/auth',
    loginArgs: [],
    tolerated: ['legacy.no_resource_metadata'],
    notTolerated: ['legacy.default_endpoints', 'legacy.pkce_unadvertised'],
  },
  {
    name: 'RFC 8414 metadata at its origin that advertises no PKCE methods',
    options: { metadata: 'rfc8414', omitMetadata: ['code_challenge_methods_supported'] },
    resource: false,
    authorizePath: '/auth',
    loginArgs: [],
    tolerated: ['legacy.no_resource_metadata', 'legacy.pkce_unadvertised'],
    notTolerated: ['legacy.default_endpoints'],
  },
  {
    name: 'no metadata at all (the default endpoints)',
    options: { metadata: 'none' },
    resource: false,
    authorizePath: '/authorize',
    // Nothing advertises offline_access here: a user who wants a refresh token asks for it.
    loginArgs: ['--scope', 'mcp:tools offline_access'],
    tolerated: ['legacy.no_resource_metadata', 'legacy.default_endpoints', 'legacy.pkce_unadvertised'],
    notTolerated: [],
  },
];

describe.each(variants)('a 2025-03-26-style server with $name', (variant) => {
  let server: LegacyServer;
  let configDir: string;
  let env: Record<string, string>;
  let clientId: string;

  beforeAll(async () => {
    server = await startLegacyServer(variant.options);
    configDir = await mkdtemp(join(tmpdir(), 'mcp-client-legacy-'));
    env = { MCP_CLIENT_CONFIG_DIR: configDir };
  });
  afterAll(async () => {
    await server?.close();
    await rm(configDir, { recursive: true, force: true });
  });

  it('discover names the fallback and what it assumed', async () => {
    const run = runCli(['discover', server.mcpUrl], env);
    expect(await run.exit, run.stderr()).toBe(0);
    const lines = run.stderr().split('\n');
    expect(lines.find((l) => /^. resource_metadata /.test(l))).toMatch(
      /^! resource_metadata +none found .*404.*: falling back to legacy discovery \(spec 2025-03-26\)/,
    );
    const as = lines.find((l) => /^. authorization_server_metadata /.test(l));
    expect(as).toMatch(/^! authorization_server_metadata legacy discovery \(spec 2025-03-26\): /);
    expect(as).toContain(`assumed: the authorization server is the MCP server's origin ${server.origin}`);
    if (variant.options.metadata === 'none') {
      expect(as).toContain(
        `no RFC 8414 metadata at ${server.origin}/.well-known/oauth-authorization-server (404): authorize=${server.origin}/authorize token=${server.origin}/token register=${server.origin}/register`,
      );
      expect(as).toContain('its endpoints are /authorize, /token and /register');
    } else {
      expect(as).toContain(
        `RFC 8414 metadata at ${server.origin}/.well-known/oauth-authorization-server: issuer=${server.origin} authorize=${server.origin}/auth`,
      );
    }
    expect(as).toContain(variant.resource ? 'resource parameter sent' : 'resource parameter not sent');
    expect(run.stdout()).toContain(`authorization server  ${server.origin} (legacy discovery, spec 2025-03-26: the MCP server's origin)`);
  });

  it('logs in, with PKCE S256 and state, and the resource parameter only where the server takes it', async () => {
    const { run, code } = await interactive(['login', server.mcpUrl, ...variant.loginArgs], env);
    expect(code, run.stderr()).toBe(0);
    expect(step(run, 'resource_metadata')[0]).toMatchObject({ found: false, fallback: 'legacy-2025-03-26' });
    expect(step(run, 'authorization_server_metadata')[0]).toMatchObject({
      discovery: 'legacy-2025-03-26',
      authorizationBaseUrl: server.origin,
      issuer: server.origin,
      metadataFound: variant.options.metadata === 'rfc8414',
      resourceParameter: variant.resource,
      assumed: expect.arrayContaining([`the authorization server is the MCP server's origin ${server.origin}`]),
    });
    const tolerated = step(run, 'deviation').map((d) => d.id);
    expect(tolerated).toEqual(expect.arrayContaining(variant.tolerated));
    for (const id of variant.notTolerated) expect(tolerated).not.toContain(id);

    const [registration] = step(run, 'registration');
    expect(registration).toMatchObject({ source: 'dcr', action: 'registered' });
    clientId = String(registration!.clientId);
    expect(server.registered).toEqual([clientId]);

    const authorizationUrl = new URL(String(step(run, 'authorization_url')[0]!.authorizationUrl));
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${server.origin}${variant.authorizePath}`);
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(authorizationUrl.searchParams.get('state')).toBeTruthy();
    expect(authorizationUrl.searchParams.get('resource')).toBe(variant.resource ? server.mcpUrl : null);
    // What the authorization server itself was sent.
    const [authorization] = server.authorizationRequests;
    expect(authorization).toMatchObject({ client_id: clientId, code_challenge_method: 'S256' });
    expect(authorization!['resource']).toBe(variant.resource ? server.mcpUrl : undefined);
    const exchange = server.tokenRequests.find((r) => r['grant_type'] === 'authorization_code');
    expect(exchange!['resource']).toBe(variant.resource ? server.mcpUrl : undefined);

    expect(step(run, 'callback')[0]).toMatchObject({ state: 'ok', iss: server.origin });
    expect(step(run, 'token')[0]).toMatchObject({ refreshToken: true });
    expect(run.lines.at(-1)).toMatchObject({
      step: 'result',
      command: 'login',
      issuer: server.origin,
      resource: server.mcpUrl,
      tools: ['whoami', 'notes_add'],
    });
    neverPrintsCredentials(run);
  });

  it('calls a tool with the stored token, no discovery needed', async () => {
    const run = runCli(['call', server.mcpUrl, 'whoami', '--json', '--no-browser', '--timeout', '5'], env);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(step(run, 'stored_token')[0]).toMatchObject({ found: true, issuer: server.origin, resource: server.mcpUrl });
    expect(step(run, 'authorization_server_metadata')).toEqual([]);
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', structuredContent: { subject: 'alice', clientId } });
  });

  it('refreshes an expired token at the authorization server found the same way', async () => {
    await expireStoredTokens(configDir);
    const before = server.tokenRequests.length;
    const run = runCli(['call', server.mcpUrl, 'whoami', '--json', '--no-browser', '--timeout', '5'], env);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(step(run, 'authorization_server_metadata')[0]).toMatchObject({
      discovery: 'legacy-2025-03-26',
      metadataFound: variant.options.metadata === 'rfc8414',
    });
    expect(step(run, 'refresh')[0]).toMatchObject({ refreshed: true });
    const refreshes = server.tokenRequests.slice(before);
    expect(refreshes.map((r) => r['grant_type'])).toEqual(['refresh_token']);
    expect(refreshes[0]!['resource']).toBe(variant.resource ? server.mcpUrl : undefined);
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', structuredContent: { subject: 'alice', clientId } });
    neverPrintsCredentials(run);
  });

  it('steps up to notes:write, discovering the same way and reusing its registration', async () => {
    const { run, code } = await interactive(['call', server.mcpUrl, 'notes_add', '{"text":"from 2025"}'], env);
    expect(code, run.stderr()).toBe(0);
    expect(step(run, 'step_up')[0]).toMatchObject({ requiredScope: 'mcp:tools notes:write' });
    expect(step(run, 'resource_metadata')[0]).toMatchObject({ found: false, fallback: 'legacy-2025-03-26' });
    expect(step(run, 'registration')).toEqual([expect.objectContaining({ action: 'reused', clientId })]);
    expect(JSON.stringify(run.lines.at(-1)!.content)).toContain('Saved note: from 2025');
    expect(server.registered).toEqual([clientId]);
    neverPrintsCredentials(run);
  });

  it('doctor reports the missing protected resource metadata as a deviation, and that login works', async () => {
    const run = runCli(['doctor', server.mcpUrl, '--json'], env);
    expect(await run.exit, run.stderr()).toBe(0);
    const result = run.lines.at(-1)!;
    expect(result).toMatchObject({ step: 'result', command: 'doctor', issuer: server.origin, resource: server.mcpUrl, loginPossible: true });
    const deviations = result.deviations as { id: string; verdict: string; rule: string; reference: string }[];
    const noPrm = deviations.find((d) => d.id === 'legacy.no_resource_metadata');
    expect(noPrm).toMatchObject({ verdict: 'tolerated', rule: expect.stringContaining('Protected Resource Metadata') });
    expect(noPrm!.reference).toContain('RFC 9728');
    expect(noPrm!.reference).toContain('https://modelcontextprotocol.io/specification/2025-03-26/basic/authorization#authorization-base-url');
    for (const id of variant.tolerated) expect(deviations).toContainEqual(expect.objectContaining({ id, verdict: 'tolerated' }));
    if (!variant.resource) expect(deviations).toContainEqual(expect.objectContaining({ id: 'legacy.resource_parameter', verdict: 'advice' }));
    expect(step(run, 'authorization_request')[0]).toMatchObject({ answer: { kind: 'accepted' } });
    neverPrintsCredentials(run);
  });

  it('logs out, revoking at the revocation endpoint the metadata names, if any', async () => {
    const run = runCli(['logout', server.mcpUrl, '--json'], env);
    expect(await run.exit, run.stderr()).toBe(0);
    const revocation = step(run, 'revocation')[0];
    if (variant.options.metadata === 'none') expect(revocation).toMatchObject({ revoked: false, reason: 'no revocation_endpoint advertised' });
    // (oidc-provider refuses to revoke its JWT access tokens, 400: the attempt is what is shown here.)
    else expect(revocation).toMatchObject({ endpoint: `${server.origin}/token/revocation` });
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', command: 'logout', issuer: server.origin, removed: true });
  });
});

describe('credentials from a 2025-03-26-style server', () => {
  let first: LegacyServer;
  let second: LegacyServer;
  let configDir: string;

  beforeAll(async () => {
    [first, second] = await Promise.all([startLegacyServer({ metadata: 'none' }), startLegacyServer({ metadata: 'rfc8414' })]);
    configDir = await mkdtemp(join(tmpdir(), 'mcp-client-legacy-two-'));
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await rm(configDir, { recursive: true, force: true });
  });

  it('stay with the origin they came from', async () => {
    const env = { MCP_CLIENT_CONFIG_DIR: configDir };
    const one = await interactive(['login', first.mcpUrl], env);
    expect(one.code, one.run.stderr()).toBe(0);
    const two = await interactive(['login', second.mcpUrl], env);
    expect(two.code, two.run.stderr()).toBe(0);
    const [firstClient] = first.registered;
    const [secondClient] = second.registered;
    expect(step(two.run, 'registration')[0]).toMatchObject({ action: 'registered', clientId: secondClient });
    expect(secondClient).not.toBe(firstClient);
    // Nothing the first server issued reached the second.
    expect(second.authorizationRequests.map((r) => r['client_id'])).not.toContain(firstClient);
    expect(second.tokenRequests.map((r) => r['client_id'])).not.toContain(firstClient);
    // Each server's tokens still work there, under its own client.
    for (const [server, clientId] of [
      [first, firstClient],
      [second, secondClient],
    ] as const) {
      const call = runCli(['call', server.mcpUrl, 'whoami', '--json', '--no-browser', '--timeout', '5'], env);
      expect(await call.exit, call.stderr()).toBe(0);
      expect(call.lines.at(-1)).toMatchObject({ structuredContent: { clientId } });
    }
  });
});
