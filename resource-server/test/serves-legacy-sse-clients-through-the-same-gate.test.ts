/**
 * A 2024-11-05 client on the deprecated HTTP+SSE transport — the v1 SDK's SSEClientTransport
 * (`@modelcontextprotocol/sdk` 1.x) — against the real stack with LEGACY_SSE=true: it logs
 * in through the real OAuth flow from the stream's 401, initializes and lists tools, is
 * refused notes_add with 403 insufficient_scope and steps up within its session; another
 * user's token cannot post into that session; and the session ends when its grant is
 * revoked or its token expires (the clock is moved and the checks run at once: no sleeps).
 */
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { obtainAccessToken } from '../../test-support/oauth-flow.ts';
import { ScriptedOAuthProvider } from '../../test-support/sdk-oauth-provider.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { insufficientScopeChallenge } from './helpers.ts';
import { postMessage } from './sse-stream.ts';

let stack: Stack;
let sseUrl: URL;
beforeAll(async () => {
  // Redis shared with the auth server (the stack's default): revoked grants reach the resource server.
  stack = await startStack({ authServerEnv: { RATE_LIMIT_REGISTRATION: '1000' }, resourceServerEnv: { LEGACY_SSE: 'true' } });
  sseUrl = new URL(`${stack.mcpUrl}/sse`);
});
afterAll(() => stack?.close());
afterEach(() => void vi.useRealTimers());

const sessions = () => stack.resourceServer.app.legacySse!;
const scopesOf = (url: URL | undefined) => new Set(url?.searchParams.get('scope')?.split(' '));
const whoami = (id: number) => ({ id, method: 'tools/call', params: { name: 'whoami', arguments: {} } });

interface Post {
  url: string;
  status: number;
  challenge: string | null;
  protocolVersion: string | null;
}

/** A v1 SSE client logged in as `user` through the real flow, connected; every POST it makes is recorded. */
async function connectedClient(user: (typeof DEMO_USERS)[keyof typeof DEMO_USERS], grantTypes = ['authorization_code']) {
  // Without refresh_token, as the v1 SDK line needs for step-up (see serves-every-client-generation).
  const provider = new ScriptedOAuthProvider({ user, clientName: 'SDK v1 SSE client', grantTypes });
  const posts: Post[] = [];
  const recordingFetch = async (input: string | URL | Request, init?: RequestInit) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : input.toString();
    if (init?.method === 'POST' && url.startsWith(`${stack.mcpUrl}/messages`)) {
      const protocolVersion = new Headers(init.headers).get('mcp-protocol-version');
      posts.push({ url, status: response.status, challenge: response.headers.get('www-authenticate'), protocolVersion });
    }
    return response;
  };
  const options = { authProvider: provider, fetch: recordingFetch };

  // The stream's 401 starts the login: discovery, DCR, the browser leg; then finishAuth.
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the deprecated HTTP+SSE transport is what this test serves
  let transport = new SSEClientTransport(sseUrl, options);
  await expect(new Client({ name: 'v1-sse-test', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrls[0]!.searchParams.get('resource')).toBe(stack.mcpUrl);
  await transport.finishAuth(provider.callbackCode());

  // A failed start leaves the v1 Client holding that transport: a new one connects.
  const client = new Client({ name: 'v1-sse-test', version: '1.0.0' });
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- as above
  transport = new SSEClientTransport(sseUrl, options);
  await client.connect(transport);
  const ended = new Promise<Error>((resolve) => (client.onerror = resolve));
  return { client, transport, provider, posts, ended, sessionUrl: () => posts[0]!.url };
}

describe('the v1 SDK on SSEClientTransport', () => {
  it('logs in, lists tools, is refused notes_add with 403, steps up and carries on in the same session', async () => {
    const { client, provider, posts, sessionUrl } = await connectedClient(DEMO_USERS.alice);
    expect(scopesOf(provider.authorizationUrls[0])).toEqual(new Set(['mcp:tools', 'mcp:resources', 'mcp:prompts']));
    expect(new URL(sessionUrl()).pathname).toBe(new URL(`${stack.mcpUrl}/messages`).pathname);
    expect(posts[0]!.status).toBe(202); // initialize, answered on the stream
    expect(posts.at(-1)!.protocolVersion).toBe('2025-11-25'); // what the v1 SDK asked for, and got

    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(['notes_add', 'notes_delete', 'notes_list', 'upstream_profile', 'whoami']);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({ email: 'alice@example.com', scopes: ['mcp:tools', 'mcp:resources', 'mcp:prompts'] });

    // The v1 SSE transport re-authorizes on 401 only: a 403 reaches the application, which steps up.
    await expect(client.callTool({ name: 'notes_add', arguments: { text: 'over SSE' } })).rejects.toThrow(/HTTP 403/);
    const refused = posts.at(-1)!;
    expect(refused.status).toBe(403);
    expect(refused.challenge).toBe(
      insufficientScopeChallenge(stack.resourceMetadataUrl, 'mcp:tools notes:write', 'tools/call notes_add needs the scopes mcp:tools notes:write.'),
    );

    const union = [...new Set([...(provider.tokens()!.scope ?? '').split(' '), 'mcp:tools', 'notes:write'])].join(' ');
    expect(await auth(provider, { serverUrl: sseUrl, scope: union, resourceMetadataUrl: new URL(stack.resourceMetadataUrl) })).toBe('REDIRECT');
    expect(scopesOf(provider.authorizationUrls.at(-1))).toEqual(new Set(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write']));
    expect(
      await auth(provider, {
        serverUrl: sseUrl,
        scope: union,
        authorizationCode: provider.callbackCode(),
        resourceMetadataUrl: new URL(stack.resourceMetadataUrl),
      }),
    ).toBe('AUTHORIZED');

    const added = await client.callTool({ name: 'notes_add', arguments: { text: 'over SSE' } });
    expect(added.isError).toBeFalsy();
    expect(added.structuredContent).toMatchObject({ note: { text: 'over SSE' } });
    const after = await client.callTool({ name: 'whoami', arguments: {} });
    expect(after.structuredContent).toMatchObject({ scopes: ['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write'] });
    // One session throughout: every POST went to the endpoint the stream announced.
    expect(new Set(posts.map((post) => post.url))).toEqual(new Set([sessionUrl()]));
    await client.close();
  });

  it('keeps its session to itself: another user’s token, or none, cannot post into it', async () => {
    const { client, sessionUrl } = await connectedClient(DEMO_USERS.alice);
    const bob = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.bob, scope: 'mcp:tools notes:write' });
    const unknown = new URL(sessionUrl());
    unknown.searchParams.set('sessionId', crypto.randomUUID());
    const notFound = await postMessage(unknown, whoami(7), { token: bob.tokens.access_token });
    expect(notFound.status).toBe(404);

    const intrusion = await postMessage(
      sessionUrl(),
      { id: 7, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'from bob' } } },
      { token: bob.tokens.access_token },
    );
    expect(intrusion.status).toBe(404);
    expect(intrusion.body).toEqual(notFound.body);
    // alice herself, through another client (its own registration): not that client's session either.
    const otherClient = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
    expect((await postMessage(sessionUrl(), whoami(8), { token: otherClient.tokens.access_token })).status).toBe(404);
    const anonymous = await postMessage(sessionUrl(), whoami(9));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe((await postMessage(unknown, whoami(9))).headers.get('www-authenticate'));

    // The session is untouched, and bob's note went nowhere.
    const notes = await client.callTool({ name: 'notes_list', arguments: {} });
    expect(JSON.stringify(notes)).not.toContain('from bob');
    await client.close();
  });

  it('loses its session when its grant is revoked', async () => {
    const { client, provider, ended, sessionUrl } = await connectedClient(DEMO_USERS.alice, ['authorization_code', 'refresh_token']);
    await client.listTools();
    sessions().sweep();
    await client.listTools(); // a sweep alone ends nothing

    const revocation = await fetch(`${stack.authServerIssuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: provider.tokens()!.refresh_token!,
        token_type_hint: 'refresh_token',
        client_id: provider.clientInformation()!.client_id,
      }),
    });
    expect(revocation.status).toBe(200);
    // What the once-a-second poll and sweep would do, done now.
    await stack.resourceServer.revokedGrants!.poll();
    sessions().sweep();
    expect(String(await ended)).toMatch(/SSE error/); // the stream ended under the client
    await client.close();
    const after = await postMessage(sessionUrl(), whoami(1), { token: provider.tokens()!.access_token });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('The access token was revoked.');
  });

  it('loses its session when its token expires', async () => {
    const { client, provider, ended, sessionUrl } = await connectedClient(DEMO_USERS.bob);
    await client.listTools();
    const { exp } = decodeJwt(provider.tokens()!.access_token);

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(exp! * 1000);
    sessions().sweep();
    expect(String(await ended)).toMatch(/SSE error/);
    await client.close();
    vi.useRealTimers();
    // Back on the real clock the token is still valid: the session, not the token, is gone.
    expect((await postMessage(sessionUrl(), whoami(1), { token: provider.tokens()!.access_token })).status).toBe(404);
  });
});
