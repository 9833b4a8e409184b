/**
 * Authorization server metadata is judged member by member (src/flow/rules.ts): what
 * changes nothing for the flow is shown as a `deviation` step and the flow goes on; what is
 * unsafe or unusable stops it with an error naming the rule. Small real authorization
 * servers on loopback serve each document.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverAuthorizationServer } from '../src/flow/discover.ts';
import { Trace } from '../src/trace.ts';
import { listen, startFakeAs } from './fixtures/servers.ts';
import type { FakeAsOptions, Running } from './fixtures/servers.ts';

const servers: Running[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Discovery against an AS with these options; the JSON lines it printed, and its result or error. */
async function discoverAt(options: FakeAsOptions, requirePkce = true) {
  const as = await startFakeAs(options);
  servers.push(as);
  const out = new PassThrough();
  const trace = new Trace({ json: true, verbose: false, stdout: out, stderr: new PassThrough() });
  const outcome = await discoverAuthorizationServer(as.issuer, trace, { requirePkce }).then(
    (result) => ({ result, error: undefined }),
    (error: unknown) => ({ result: undefined, error: error as { code: string; message: string } }),
  );
  const lines = String(out.read() ?? '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { as, lines, ...outcome, deviations: lines.filter((line) => line.step === 'deviation') };
}

describe('harmless gaps: a deviation step, and the flow goes on', () => {
  it.each([
    {
      name: 'response_types_supported missing (RFC 8414 REQUIRED)',
      options: { omitMetadata: ['response_types_supported'] },
      id: 'as.response_types_supported',
    },
    {
      name: 'an OIDC document without jwks_uri, subject_types_supported, id_token_signing_alg_values_supported',
      options: { metadataAt: 'oidc' as const, omitMetadata: ['jwks_uri', 'subject_types_supported', 'id_token_signing_alg_values_supported'] },
      id: 'as.oidc_required_members',
    },
    {
      name: 'a malformed optional member (scopes_supported as a string)',
      options: { extraMetadata: { scopes_supported: 'mcp:tools offline_access' } },
      id: 'as.member_type',
    },
    {
      name: 'grant_types_supported without authorization_code',
      options: { extraMetadata: { grant_types_supported: ['implicit'] } },
      id: 'as.grant_types_supported',
    },
    { name: 'a plain-http endpoint on a non-loopback host', options: { extraMetadata: { revocation_endpoint: 'http://as.example/revoke' } }, id: 'as.https' },
  ])('$name', async ({ options, id }) => {
    const { result, error, deviations } = await discoverAt(options);
    expect(error).toBeUndefined();
    expect(deviations).toEqual([expect.objectContaining({ id, verdict: 'tolerated', rule: expect.any(String), reference: expect.any(String) })]);
    expect(result?.metadata.token_endpoint).toMatch(/\/token$/);
  });

  it('assumes ["code"] where response_types_supported is missing, as the flow would use anyway', async () => {
    const { result } = await discoverAt({ omitMetadata: ['response_types_supported'] });
    expect(result?.metadata.response_types_supported).toEqual(['code']);
  });

  it('drops a malformed optional member instead of using it', async () => {
    const { result } = await discoverAt({ extraMetadata: { scopes_supported: 'mcp:tools offline_access' } });
    expect(result?.metadata.token_endpoint).toMatch(/\/token$/);
    expect(result?.metadata.scopes_supported).toBeUndefined();
  });

  it('shows nothing for complete metadata', async () => {
    const { deviations, lines } = await discoverAt({});
    expect(deviations).toEqual([]);
    expect(lines.find((line) => line.step === 'authorization_server_metadata')).toMatchObject({ deviations: [] });
  });
});

describe('unsafe or unusable: the flow stops, naming the rule', () => {
  it.each([
    {
      name: 'an issuer other than the one looked up',
      options: { publishedIssuer: 'https://other.example' },
      code: 'issuer_mismatch',
      text: 'https://other.example',
    },
    { name: 'no issuer at all', options: { omitMetadata: ['issuer'] }, code: 'issuer_mismatch', text: 'no issuer' },
    { name: 'no PKCE S256', options: { codeChallengeMethods: ['plain'] }, code: 'pkce_unsupported', text: 'S256' },
    { name: 'code_challenge_methods_supported absent', options: { codeChallengeMethods: null }, code: 'pkce_unsupported', text: 'absent' },
    {
      name: 'response types without "code"',
      options: { extraMetadata: { response_types_supported: ['token'] } },
      code: 'invalid_as_metadata',
      text: 'without "code"',
    },
    {
      name: 'an authorization endpoint that is not http(s)',
      options: { extraMetadata: { authorization_endpoint: 'javascript:alert(1)' } },
      code: 'invalid_as_metadata',
      text: 'authorization_endpoint',
    },
    { name: 'no token endpoint', options: { omitMetadata: ['token_endpoint'] }, code: 'invalid_as_metadata', text: 'token_endpoint' },
  ])('$name', async ({ options, code, text }) => {
    const { error, lines } = await discoverAt(options);
    expect(error).toMatchObject({ code, message: expect.stringContaining(text) });
    expect(lines.find((line) => line.step === 'authorization_server_metadata')).toMatchObject({ deviations: expect.arrayContaining([expect.any(String)]) });
  });

  it('a machine client (client_credentials) needs neither PKCE nor an authorization endpoint', async () => {
    const { error } = await discoverAt({ codeChallengeMethods: null, omitMetadata: ['authorization_endpoint'] }, false);
    expect(error).toBeUndefined();
  });

  it('a document that is not JSON', async () => {
    const server = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
    });
    servers.push(server);
    const trace = new Trace({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() });
    await expect(discoverAuthorizationServer(server.origin, trace)).rejects.toMatchObject({
      code: 'invalid_as_metadata',
      message: expect.stringContaining('not a JSON object'),
    });
  });
});
