/**
 * `mcp-client doctor <url>` (the real CLI) against small real servers on loopback: it
 * lists every deviation it sees with the rule and its reference, exits 1 when a login would
 * be refused, never registers at a server it would refuse, and with --no-register leaves
 * the authorization server untouched. It stores nothing.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './fixtures/cli.ts';
import { startFakeAs, startFakeRs } from './fixtures/servers.ts';
import type { FakeAs, FakeAsOptions, FakeRs, FakeRsOptions } from './fixtures/servers.ts';

let configDir: string;
beforeAll(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'mcp-client-doctor-'));
});
afterAll(async () => {
  await rm(configDir, { recursive: true, force: true });
});

const running: (FakeAs | FakeRs)[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function servers(asOptions: FakeAsOptions = {}, rsOptions: FakeRsOptions = {}) {
  const as = await startFakeAs(asOptions);
  const rs = await startFakeRs(as, rsOptions);
  running.push(rs, as);
  return { as, rs };
}

async function doctor(url: string, ...flags: string[]) {
  const run = runCli(['doctor', url, ...flags], { MCP_CLIENT_CONFIG_DIR: configDir });
  const code = await run.exit;
  return { run, code };
}

type Reported = { id: string; verdict: string; detail: string; rule: string; reference: string; effect: string };

describe('mcp-client doctor', () => {
  it('refuses along with the login it would refuse (no PKCE S256): exit 1, and no client registered there', async () => {
    const { as, rs } = await servers({ codeChallengeMethods: null });
    const { run, code } = await doctor(rs.resource, '--json');
    expect(code).toBe(1);
    const result = run.lines.at(-1)!;
    expect(result).toMatchObject({ step: 'result', command: 'doctor', loginPossible: false });
    expect(result.deviations).toContainEqual(
      expect.objectContaining({ id: 'as.pkce_s256', verdict: 'refused', reference: expect.stringContaining('Authorization Code Protection') }),
    );
    expect(run.lines.find((line) => line.step === 'registration')).toMatchObject({ skipped: true });
    expect(as.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('names each deviation with its rule, reference and effect, in a human report on stdout', async () => {
    const { rs } = await servers({ omitMetadata: ['response_types_supported', 'scopes_supported'], issParameterSupported: false });
    const { run, code } = await doctor(rs.resource);
    expect(code, run.stderr()).toBe(0);
    const report = run.stdout();
    expect(report).toContain('mcp-client can log in here');
    for (const id of ['as.response_types_supported', 'as.scopes_supported', 'as.iss_parameter', 'registration.management']) expect(report).toContain(id);
    expect(report).toMatch(/rule: +response_types_supported is REQUIRED/);
    expect(report).toContain('reference: RFC 8414 §2 (https://www.rfc-editor.org/rfc/rfc8414#section-2)');
    expect(report).toMatch(/tolerated +as\.response_types_supported/);
  });

  it('reports what the challenge lacks', async () => {
    const { rs } = await servers({}, { challengeScope: null });
    const { run, code } = await doctor(rs.resource, '--json');
    expect(code).toBe(0);
    const ids = (run.lines.at(-1)!.deviations as Reported[]).map((d) => d.id);
    expect(ids).toContain('challenge.scope');
  });

  it('registers a probe client and says that it stays there when the server offers no RFC 7592 deletion', async () => {
    const { as, rs } = await servers();
    const { run, code } = await doctor(rs.resource, '--json');
    expect(code).toBe(0);
    expect(as.registrations).toHaveLength(1);
    expect(as.registrations[0]).toMatchObject({
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: [expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/callback$/)],
    });
    const registration = run.lines.find((line) => line.step === 'registration')!;
    expect(String(registration.clientId)).toBe('client-1');
    expect(run.lines.find((line) => line.step === 'authorization_request')).toMatchObject({ answer: { kind: 'accepted' } });
    // Nothing stored locally.
    expect(await readdir(configDir)).toEqual([]);
  });

  it('with --no-register sends the authorization server nothing but metadata requests', async () => {
    const { as, rs } = await servers();
    const { run, code } = await doctor(rs.resource, '--json', '--no-register');
    expect(code).toBe(0);
    expect(as.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /.well-known/oauth-authorization-server']);
    expect(run.lines.find((line) => line.step === 'registration')).toMatchObject({ skipped: true, reason: '--no-register' });
  });

  it('--no-register belongs to doctor only', async () => {
    const { rs } = await servers();
    const run = runCli(['login', rs.resource, '--no-register'], { MCP_CLIENT_CONFIG_DIR: configDir });
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain('--no-register is an option of `doctor`');
  });
});
