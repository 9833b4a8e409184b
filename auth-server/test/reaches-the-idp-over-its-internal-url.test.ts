/**
 * In containers the IdP's public issuer (http://localhost:5556/dex) is not reachable from the
 * auth server, and Dex's metadata names its endpoints on that public issuer. With
 * IDP_INTERNAL_URL every back-channel call (discovery, token, JWKS) goes to the internal URL,
 * while the browser is still sent to the public authorization endpoint.
 *
 * A stand-in IdP plays Dex here (named so): the real dev-idp names its endpoints after the
 * request's Host, so it cannot show the difference; the stand-in names them after a public
 * host that does not resolve (idp.example.test), as Dex does with its configured issuer.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamIdp } from '../src/upstream.ts';

let server: Server;
let internalUrl: string;
let publicIssuer: string;
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.url === '/dex/.well-known/openid-configuration') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          issuer: publicIssuer,
          authorization_endpoint: `${publicIssuer}/auth`,
          token_endpoint: `${publicIssuer}/token`,
          jwks_uri: `${publicIssuer}/keys`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
        }),
      );
      return;
    }
    if (request.url === '/dex/token') {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', error_description: 'stand-in' }));
      return;
    }
    response.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  internalUrl = `http://127.0.0.1:${port}`;
  publicIssuer = `http://idp.example.test:${port}/dex`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('IDP_INTERNAL_URL', () => {
  it('discovers and exchanges codes over the internal URL, and sends browsers to the public issuer', async () => {
    const upstream = new UpstreamIdp({
      issuer: publicIssuer,
      internalUrl,
      clientId: 'mcp-auth-server',
      clientSecret: 'secret',
      redirectUri: 'http://localhost:4000/upstream/callback',
      scopes: 'openid email profile',
    });
    expect(await upstream.ping()).toBe(true);

    const { url, attempt } = await upstream.start('uid123');
    expect(url.origin).toBe(new URL(publicIssuer).origin);
    expect(url.pathname).toBe('/dex/auth');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toBe(attempt.state);
    expect(attempt.state.startsWith('uid123.')).toBe(true);

    const callback = new URL('http://localhost:4000/upstream/callback');
    callback.searchParams.set('code', 'a-code');
    callback.searchParams.set('state', attempt.state);
    await expect(upstream.finish(callback, attempt)).rejects.toThrow();
    // The code went to the token endpoint through the internal URL (the public host does not resolve).
    expect(requests).toContain('POST /dex/token');
  });
});
