/**
 * The CLI against authorization servers that behave as the ones in the field do (real
 * oidc-provider instances, fixtures/field-authorization-server.ts, in front of this
 * project's resource server): exact redirect-URI comparison with and without RFC 7592, and
 * metadata without response_types_supported. Against each: login, a tool call and a
 * step-up; a second login reuses the registration while its port is free and recovers when
 * another program holds it; `doctor` names what each server does differently.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './fixtures/cli.ts';
import type { CliRun } from './fixtures/cli.ts';
import { startFieldStack } from './fixtures/field-authorization-server.ts';
import type { FieldAsOptions, FieldStack } from './fixtures/field-authorization-server.ts';
import { interactive, step } from './fixtures/interactive.ts';

const LOOPBACK = /^http:\/\/127\.0\.0\.1:(\d+)\/callback$/;

function neverPrintsCredentials(run: CliRun): void {
  const out = run.stdout() + run.stderr();
  expect(out).not.toMatch(/eyJ[\w-]+\.eyJ/);
  expect(out).not.toMatch(/"(access_token|refresh_token|registration_access_token|code)":/);
}

/** Holds a loopback port, as another program would. */
async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

const variants: { name: string; options: FieldAsOptions; recovery: 'updated' | 'registered'; doctor: { expected: string[]; absent: string[] } }[] = [
  {
    name: 'oidc-provider comparing redirect URIs exactly for web and native clients, with RFC 7592',
    options: { redirectUris: 'exact', registrationManagement: true },
    recovery: 'updated',
    doctor: { expected: ['authorization.loopback_any_port'], absent: ['registration.management', 'as.response_types_supported'] },
  },
  {
    name: 'a server that requires the registered port and offers no RFC 7592 update',
    options: { redirectUris: 'exact', registrationManagement: false },
    recovery: 'registered',
    doctor: { expected: ['authorization.loopback_any_port', 'registration.management'], absent: ['as.response_types_supported'] },
  },
  {
    name: 'a server whose metadata omits response_types_supported',
    options: { redirectUris: 'oidc-provider', registrationManagement: true, omitMetadata: ['response_types_supported'] },
    recovery: 'updated',
    doctor: { expected: ['as.response_types_supported'], absent: ['authorization.loopback_any_port', 'registration.management'] },
  },
];

describe.each(variants)('against $name', ({ options, recovery, doctor }) => {
  let stack: FieldStack;
  let configDir: string;
  let env: Record<string, string>;
  let first: { clientId: string; redirectUri: string };

  beforeAll(async () => {
    stack = await startFieldStack(options);
    configDir = await mkdtemp(join(tmpdir(), 'mcp-client-field-'));
    env = { MCP_CLIENT_CONFIG_DIR: configDir };
  });
  afterAll(async () => {
    await stack?.close();
    await rm(configDir, { recursive: true, force: true });
  });

  it('logs in with the exact loopback redirect URI it registered', async () => {
    const { run, code } = await interactive(['login', stack.mcpUrl], env);
    expect(code, run.stderr()).toBe(0);
    const [registration] = step(run, 'registration');
    expect(registration).toMatchObject({ source: 'dcr', action: 'registered' });
    const redirectUri = String(registration!.redirectUri);
    expect(redirectUri).toMatch(LOOPBACK);
    expect(registration!.redirectUris).toEqual([redirectUri]);
    expect(step(run, 'authorization_url')[0]!.redirectUri).toBe(redirectUri);
    expect(run.lines.at(-1)).toMatchObject({ step: 'result', command: 'login', tools: expect.arrayContaining(['whoami', 'notes_add']) });
    expect(stack.events).toEqual([`registered ${String(registration!.clientId)} ${redirectUri}`]);
    if (options.omitMetadata?.includes('response_types_supported')) {
      expect(step(run, 'deviation')).toContainEqual(expect.objectContaining({ id: 'as.response_types_supported', verdict: 'tolerated' }));
    }
    neverPrintsCredentials(run);
    first = { clientId: String(registration!.clientId), redirectUri };
  });

  it('calls a tool with the stored token', async () => {
    const call = runCli(['call', stack.mcpUrl, 'whoami', '--json', '--no-browser', '--timeout', '5'], env);
    expect(await call.exit, call.stderr()).toBe(0);
    expect(call.lines.at(-1)).toMatchObject({ step: 'result', structuredContent: { subject: 'alice', clientId: first.clientId } });
  });

  it('steps up to notes:write on the registered redirect URI', async () => {
    const { run, code } = await interactive(['call', stack.mcpUrl, 'notes_add', '{"text":"from the field"}'], env);
    expect(code, run.stderr()).toBe(0);
    expect(step(run, 'step_up')[0]).toMatchObject({ requiredScope: expect.stringContaining('notes:write') });
    expect(step(run, 'registration')).toEqual([expect.objectContaining({ action: 'reused', clientId: first.clientId, redirectUri: first.redirectUri })]);
    expect(String(run.lines.at(-1)!.content && JSON.stringify(run.lines.at(-1)!.content))).toContain('Saved note');
    neverPrintsCredentials(run);
  });

  it('reuses the registration on a second login while its port is free', async () => {
    const { run, code } = await interactive(['login', stack.mcpUrl], env);
    expect(code, run.stderr()).toBe(0);
    expect(step(run, 'registration')).toEqual([
      expect.objectContaining({ source: 'stored', action: 'reused', clientId: first.clientId, redirectUri: first.redirectUri }),
    ]);
    expect(stack.events.filter((e) => !e.startsWith('refused'))).toHaveLength(1);
  });

  it(`recovers when another program holds the registered port (${recovery === 'updated' ? 'RFC 7592 update' : 'registers again'})`, async () => {
    const holder = await occupy(Number(LOOPBACK.exec(first.redirectUri)![1]));
    try {
      const { run, code } = await interactive(['login', stack.mcpUrl], env);
      expect(code, run.stderr()).toBe(0);
      const [registration] = step(run, 'registration');
      const redirectUri = String(registration!.redirectUri);
      expect(redirectUri).toMatch(LOOPBACK);
      expect(redirectUri).not.toBe(first.redirectUri);
      expect(String(registration!.reason)).toContain('in use');
      if (recovery === 'updated') {
        expect(registration).toMatchObject({ action: 'updated', clientId: first.clientId, redirectUris: [redirectUri, first.redirectUri] });
        expect(stack.events.at(-1)).toBe(`updated ${first.clientId} ${redirectUri} ${first.redirectUri}`);
      } else {
        expect(registration).toMatchObject({ action: 'registered', replaces: first.clientId });
        expect(registration!.clientId).not.toBe(first.clientId);
        expect(stack.events.at(-1)).toBe(`registered ${String(registration!.clientId)} ${redirectUri}`);
      }
      expect(step(run, 'authorization_url')[0]!.redirectUri).toBe(redirectUri);
      neverPrintsCredentials(run);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('doctor reports how the server differs, with the rule and its reference', async () => {
    const run = runCli(['doctor', stack.mcpUrl, '--json'], env);
    expect(await run.exit, run.stderr()).toBe(0);
    const result = run.lines.at(-1)!;
    expect(result).toMatchObject({ step: 'result', command: 'doctor', issuer: stack.issuer, loginPossible: true });
    const deviations = result.deviations as { id: string; rule: string; reference: string }[];
    const ids = deviations.map((d) => d.id);
    for (const id of doctor.expected) expect(ids).toContain(id);
    for (const id of doctor.absent) expect(ids).not.toContain(id);
    for (const d of deviations) {
      expect(d.rule).not.toBe('');
      expect(d.reference).toMatch(/RFC \d+|MCP authorization|OpenID/);
    }
    // Its probe client was deleted again where the server offers RFC 7592.
    if (options.registrationManagement) expect(step(run, 'deregistration')[0]).toMatchObject({ status: 204 });
    neverPrintsCredentials(run);
  });
});
