import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevIdp } from '../src/server.ts';
import { startDevIdp } from '../src/server.ts';
import { repoDexConfig, startTestIdp } from './helpers.ts';

describe('discovery', () => {
  let idp: DevIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(() => idp?.close());

  it('derives the issuer from the free port and keeps the Dex issuer path', () => {
    const port = new URL(idp.url).port;
    expect(port).not.toBe('');
    expect(idp.issuer).toBe(`http://127.0.0.1:${port}/dex`);
  });

  it('serves the OpenID configuration at <issuer>/.well-known/openid-configuration', async () => {
    const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(idp.issuer);
    // Dex's endpoint paths, under the issuer.
    expect(metadata.authorization_endpoint).toBe(`${idp.issuer}/auth`);
    expect(metadata.token_endpoint).toBe(`${idp.issuer}/token`);
    expect(metadata.jwks_uri).toBe(`${idp.issuer}/keys`);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'offline_access']));
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));

    const jwks = (await (await fetch(String(metadata.jwks_uri))).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d'); // public half only
  });

  it('serves nothing at the root (the provider is mounted under /dex only)', async () => {
    const response = await fetch(`${idp.url}/.well-known/openid-configuration`);
    expect(response.status).toBe(404);
  });

  it('uses an issuer override as given', async () => {
    const dex = await repoDexConfig();
    const other = await startDevIdp({ dex, port: 0, issuer: 'http://localhost:5556/dex' });
    try {
      const metadata = (await (await fetch(`${other.url}/dex/.well-known/openid-configuration`)).json()) as {
        issuer: string;
      };
      expect(other.issuer).toBe('http://localhost:5556/dex');
      expect(metadata.issuer).toBe('http://localhost:5556/dex');
    } finally {
      await other.close();
    }
  });
});
