import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../test-support/stack.ts';
import { anonymousChallenge, DPOP_ALGS } from './helpers.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const listTools = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

function postMcp(headers: Record<string, string> = {}) {
  return fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: listTools,
  });
}

describe('requests without a valid token', () => {
  it('answers 401 with resource_metadata and the initial scopes, without error when no token was sent', async () => {
    const response = await postMcp();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(anonymousChallenge(stack.resourceMetadataUrl));
  });

  it.each([
    ['a token that is not a JWT', 'Bearer not-a-jwt', 'The access token is not a JWT.'],
    ['a scheme other than Bearer and DPoP', 'Basic YWxpY2U6cGFzc3dvcmQ=', 'The Authorization header is not a Bearer or DPoP token.'],
    // header {"alg":"none","typ":"at+jwt"}: unsigned tokens are refused before any key lookup
    [
      'an unsigned token',
      'Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.',
      'The access token is signed with an algorithm this server does not accept.',
    ],
  ])('answers 401 invalid_token to %s', async (_label, authorization, description) => {
    const response = await postMcp({ authorization });
    expect(response.status).toBe(401);
    const header = response.headers.get('www-authenticate')!;
    expect(header).toContain(`resource_metadata="${stack.resourceMetadataUrl}"`);
    expect(header).toContain('error="invalid_token"');
    expect(header).toContain(`error_description="${description}"`);
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: description });
  });

  it('lets browser clients read WWW-Authenticate cross-origin', async () => {
    const preflight = await fetch(stack.mcpUrl, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');

    const response = await postMcp({ origin: 'http://localhost:6274' });
    expect(response.headers.get('access-control-expose-headers')).toContain('www-authenticate');
  });
});

describe('protected resource metadata (RFC 9728)', () => {
  it.each(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'])('is served at %s', async (path) => {
    const response = await fetch(new URL(path, stack.mcpUrl));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      resource: stack.mcpUrl,
      authorization_servers: [stack.authServerIssuer],
      scopes_supported: ['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write', 'upstream:read'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_ALGS.split(' '),
      dpop_bound_access_tokens_required: false,
      resource_name: 'MCP OAuth reference server',
    });
  });

  it('is what the challenge points at', async () => {
    const challenge = (await postMcp()).headers.get('www-authenticate')!;
    const url = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    const metadata = (await (await fetch(url)).json()) as { resource: string };
    expect(metadata.resource).toBe(stack.mcpUrl);
  });
});
