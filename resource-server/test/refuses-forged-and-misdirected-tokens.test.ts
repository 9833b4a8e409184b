import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSigningKey, StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { invalidTokenChallenge, mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';

// Forged tokens need a signing key the real AS would never use: a stand-in AS (metadata +
// JWKS, see test-support) issues them. The resource server under test is the real one.
let as: StandInAuthorizationServer;
let rs: TestResourceServer;
beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  rs = await startResourceServerFor(as);
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

async function expectRefused(token: string, description: string, query = '') {
  const response = await mcp(rs.mcpUrl + query, { token, method: 'tools/list' });
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(invalidTokenChallenge(rs.resourceMetadataUrl, description));
  expect(response.body).toEqual({ error: 'invalid_token', error_description: description });
}

describe('token verification (stand-in AS signs the forgeries)', () => {
  it('accepts a well-formed token from the configured AS for this resource (the baseline the refusals differ from)', async () => {
    const response = await mcp(rs.mcpUrl, { token: await as.sign(rs.mcpUrl), method: 'tools/list' });
    expect(response.status).toBe(200);
    expect(response.body.result.tools.map((tool: { name: string }) => tool.name)).toContain('whoami');
  });

  it('refuses an expired token', async () => {
    await expectRefused(await as.sign(rs.mcpUrl, { iat: now() - 600, exp: now() - 60 }), 'The access token expired.');
  });

  it('refuses a token that is not valid yet (nbf beyond the clock tolerance)', async () => {
    await expectRefused(await as.sign(rs.mcpUrl, { nbf: now() + 120 }), 'The access token is not valid yet.');
  });

  it('refuses a token signed by another key under the AS key id', async () => {
    const impostor = await newSigningKey(as.currentKey.kid);
    await expectRefused(await as.sign(rs.mcpUrl, {}, { key: impostor }), 'The access token signature is invalid.');
  });

  it('refuses a tampered token (scope widened after signing)', async () => {
    const [header, payload, signature] = (await as.sign(rs.mcpUrl)).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { scope: string; [claim: string]: unknown };
    const tampered = `${header}.${b64({ ...claims, scope: `${claims.scope} notes:write` })}.${signature}`;
    await expectRefused(tampered, 'The access token signature is invalid.');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const claims = { iss: as.issuer, aud: rs.mcpUrl, sub: 'x', client_id: 'x', scope: 'mcp:tools', exp: now() + 300 };
    await expectRefused(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`, 'The access token is signed with an algorithm this server does not accept.');
  });

  it('refuses an HS256 token keyed with the AS public key (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(as.currentKey.publicJwk));
    const token = await new SignJWT({ iss: as.issuer, aud: rs.mcpUrl, sub: 'x', client_id: 'x', scope: 'mcp:tools' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: as.currentKey.kid })
      .setExpirationTime('5m')
      .sign(secret);
    await expectRefused(token, 'The access token is signed with an algorithm this server does not accept.');
  });

  it.each([['JWT'], ['id_token+jwt']])('refuses a token whose typ is %s, not at+jwt (e.g. an ID token)', async (typ) => {
    await expectRefused(await as.sign(rs.mcpUrl, {}, { typ }), 'The token is not an access token.');
  });

  it('refuses a token from another issuer', async () => {
    await expectRefused(await as.sign(rs.mcpUrl, { iss: 'http://127.0.0.1:1' }), 'The access token was issued by an untrusted authorization server.');
  });

  it('refuses a token issued for another resource', async () => {
    await expectRefused(await as.sign('http://127.0.0.1:1/mcp'), 'The access token was issued for another resource.');
  });

  it('refuses a token without client_id', async () => {
    await expectRefused(await as.sign(rs.mcpUrl, { client_id: undefined }), "The access token's client_id claim is invalid.");
  });

  it('refuses a token signed with a key the AS does not publish (unknown kid)', async () => {
    const stranger = await newSigningKey();
    await expectRefused(await as.sign(rs.mcpUrl, {}, { key: stranger }), 'The access token is signed with a key this server does not know.');
  });

  it('never reads a token from the query string, even a valid one', async () => {
    const valid = await as.sign(rs.mcpUrl);
    const response = await fetch(`${rs.mcpUrl}?access_token=${valid}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    const description = 'Access tokens are accepted only in the Authorization header, never in the URL.';
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(invalidTokenChallenge(rs.resourceMetadataUrl, description));
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: description });
    // …and a query token next to a valid header is refused too: it has leaked into a URL.
    await expectRefused(valid, description, `?access_token=${valid}`);
  });
});
