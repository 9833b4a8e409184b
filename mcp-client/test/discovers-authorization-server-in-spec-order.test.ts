import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { discoverAuthorizationServer } from '../src/flow/discover.ts';
import { Trace } from '../src/trace.ts';
import { startFakeAs } from './fixtures/servers.ts';
import type { FakeAs } from './fixtures/servers.ts';

const trace = () => new Trace({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() });

let as: FakeAs | undefined;
afterEach(async () => {
  await as?.close();
  as = undefined;
});

const paths = (fake: FakeAs) => fake.requests.map((r) => r.path);

describe('authorization server metadata discovery (RFC 8414, then OIDC)', () => {
  it('for an issuer with a path: RFC 8414 with path insertion first', async () => {
    as = await startFakeAs({ issuerPath: '/tenant1' });
    const result = await discoverAuthorizationServer(as.issuer, trace());
    expect(paths(as)).toEqual(['/.well-known/oauth-authorization-server/tenant1']);
    expect(result.issuer).toBe(as.issuer);
    expect(result.metadata.token_endpoint).toBe(`${as.issuer}/token`);
  });

  it('for an issuer with a path: then OIDC with path insertion, then OIDC path appending', async () => {
    as = await startFakeAs({ issuerPath: '/tenant1', metadataAt: 'oidc' });
    let result = await discoverAuthorizationServer(as.issuer, trace());
    expect(paths(as).slice(0, 2)).toEqual(['/.well-known/oauth-authorization-server/tenant1', '/.well-known/openid-configuration/tenant1']);
    expect(result.issuer).toBe(as.issuer);
    await as.close();

    as = await startFakeAs({ issuerPath: '/tenant1', metadataAt: 'oidc-append' });
    result = await discoverAuthorizationServer(as.issuer, trace());
    expect(paths(as).slice(0, 3)).toEqual([
      '/.well-known/oauth-authorization-server/tenant1',
      '/.well-known/openid-configuration/tenant1',
      '/tenant1/.well-known/openid-configuration',
    ]);
    expect(result.url).toBe(`${as.issuer}/.well-known/openid-configuration`);
  });

  it('for an issuer without a path: RFC 8414, then OIDC discovery', async () => {
    as = await startFakeAs({ metadataAt: 'oidc' });
    const result = await discoverAuthorizationServer(as.issuer, trace());
    expect(paths(as).slice(0, 2)).toEqual(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']);
    expect(result.url).toBe(`${as.issuer}/.well-known/openid-configuration`);
    // The SDK's OIDC schema strips revocation_endpoint; the flow restores it for logout.
    expect(result.metadata.revocation_endpoint).toBe(`${as.issuer}/revoke`);
  });

  it('refuses metadata whose issuer differs from the one it was looked up for', async () => {
    as = await startFakeAs({ publishedIssuer: 'https://honest.example' });
    await expect(discoverAuthorizationServer(as.issuer, trace())).rejects.toMatchObject({
      code: 'issuer_mismatch',
      message: expect.stringContaining('https://honest.example'),
    });
  });

  it('refuses an AS that does not advertise PKCE at all', async () => {
    as = await startFakeAs({ codeChallengeMethods: null });
    await expect(discoverAuthorizationServer(as.issuer, trace())).rejects.toMatchObject({ code: 'pkce_unsupported' });
  });

  it('refuses an AS that offers only plain PKCE', async () => {
    as = await startFakeAs({ codeChallengeMethods: ['plain'] });
    await expect(discoverAuthorizationServer(as.issuer, trace())).rejects.toMatchObject({
      code: 'pkce_unsupported',
      message: expect.stringContaining('S256'),
    });
  });

  it('reports the endpoints, PKCE methods and RFC 9207 support as a step', async () => {
    as = await startFakeAs();
    const out = new PassThrough();
    await discoverAuthorizationServer(as.issuer, new Trace({ json: true, verbose: false, stdout: out, stderr: new PassThrough() }));
    const line = JSON.parse(String(out.read()));
    expect(line).toMatchObject({
      step: 'authorization_server_metadata',
      issuer: as.issuer,
      authorizationEndpoint: `${as.issuer}/authorize`,
      tokenEndpoint: `${as.issuer}/token`,
      registrationEndpoint: `${as.issuer}/register`,
      codeChallengeMethodsSupported: ['S256'],
      pkceS256: true,
      issParameterSupported: true,
    });
  });
});
