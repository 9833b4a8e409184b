/**
 * When the user's upstream token cannot be had, `upstream_profile` answers a tool error that
 * says why — never a 500, never a stack trace, never a token: the resource server is not set
 * up for token exchange, or the authorization server offers no token endpoint. A stand-in AS
 * signs the tokens (named so: the test is about the resource server's side of the failure).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';

let as: StandInAuthorizationServer;
const servers: TestResourceServer[] = [];

beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await as?.down();
});

async function callProfile(env: Record<string, string>) {
  const rs = await startResourceServerFor(as, env);
  servers.push(rs);
  const token = await as.sign(rs.mcpUrl, { scope: 'mcp:tools upstream:read' });
  const response = await mcp(rs.mcpUrl, { token, method: 'tools/call', params: { name: 'upstream_profile', arguments: {} } });
  return { response, token };
}

describe('upstream_profile when no upstream token can be had', () => {
  it('says the server is not set up for it when TOKEN_EXCHANGE_CLIENT_ID is not set', async () => {
    const { response } = await callProfile({});
    expect(response.status).toBe(200);
    expect(response.body.result).toMatchObject({
      isError: true,
      content: [
        {
          type: 'text',
          text: 'The identity provider cannot be used right now: this server is not set up to call upstream APIs (TOKEN_EXCHANGE_CLIENT_ID is not set).',
        },
      ],
    });
  });

  it('says the authorization server cannot exchange, without a stack trace or the token, when it offers no token endpoint', async () => {
    const { response, token } = await callProfile({ TOKEN_EXCHANGE_CLIENT_ID: 'rs', TOKEN_EXCHANGE_CLIENT_SECRET: 'rs-secret-0123456789' });
    expect(response.status).toBe(200);
    expect(response.body.result.isError).toBe(true);
    const text = response.body.result.content[0]!.text;
    expect(text).toBe('The identity provider cannot be used right now: authorization server metadata has no token_endpoint.');
    expect(JSON.stringify(response.body)).not.toContain(token);
  });
});
