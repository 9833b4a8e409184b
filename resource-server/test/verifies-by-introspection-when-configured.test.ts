import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTROSPECTION_CLIENT, StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { callTool, invalidTokenChallenge, mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';

// TOKEN_VERIFIER=introspection: the resource server asks the AS (RFC 7662) about every token,
// as a confidential client. The stand-in AS introspects the tokens it signs: the real AS
// (oidc-provider) refuses to introspect its structured JWT access tokens
// (unsupported_token_type), so this path is exercised against the stand-in.
let as: StandInAuthorizationServer;
let rs: TestResourceServer;
beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  rs = await startResourceServerFor(as, {
    TOKEN_VERIFIER: 'introspection',
    INTROSPECTION_CLIENT_ID: INTROSPECTION_CLIENT.id,
    INTROSPECTION_CLIENT_SECRET: INTROSPECTION_CLIENT.secret,
  });
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

const refused = async (token: string, description: string) => {
  const response = await mcp(rs.mcpUrl, { token, method: 'tools/list' });
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(invalidTokenChallenge(rs.resourceMetadataUrl, description));
};

describe('introspection verifier (stand-in AS)', () => {
  it('asks the AS on every request and serves the identity it reports', async () => {
    const token = await as.sign(rs.mcpUrl, { sub: 'carol', email: 'carol@example.com', scope: 'mcp:tools' });
    const before = as.introspectionRequests;
    const who = await callTool(rs.mcpUrl, token, 'whoami');
    expect(who.structuredContent).toMatchObject({ subject: 'carol', email: 'carol@example.com', clientId: 'stand-in-client', scopes: ['mcp:tools'] });
    await callTool(rs.mcpUrl, token, 'whoami');
    expect(as.introspectionRequests - before).toBe(2);
    expect(as.jwksRequests).toBe(0); // no local verification at all
  });

  it('sees a revocation at once (what local JWT verification cannot)', async () => {
    const token = await as.sign(rs.mcpUrl);
    expect((await mcp(rs.mcpUrl, { token, method: 'tools/list' })).status).toBe(200);
    as.revoke(token);
    await refused(token, 'The access token is not active.');
  });

  it('still checks what the AS reports: audience, issuer and expiry', async () => {
    await refused(await as.sign('http://127.0.0.1:1/mcp'), 'The access token was issued for another resource.');
    await refused('not-a-token-the-as-knows', 'The access token is not active.');
  });

  it('applies the same scope decisions', async () => {
    const token = await as.sign(rs.mcpUrl, { scope: 'mcp:tools' });
    const response = await mcp(rs.mcpUrl, { token, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'x' } } });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('scope="mcp:tools notes:write"');
  });

  it('answers 503 when the AS refuses its client credentials (a misconfiguration, not a bad token)', async () => {
    const misconfigured = await startResourceServerFor(as, {
      TOKEN_VERIFIER: 'introspection',
      INTROSPECTION_CLIENT_ID: 'resource-server',
      INTROSPECTION_CLIENT_SECRET: 'wrong',
    });
    try {
      const response = await mcp(misconfigured.mcpUrl, { token: await as.sign(misconfigured.mcpUrl), method: 'tools/list' });
      expect(response.status).toBe(503);
    } finally {
      await misconfigured.close();
    }
  });
});
