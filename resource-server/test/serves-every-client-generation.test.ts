import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2, UnauthorizedError as UnauthorizedErrorV2 } from '@modelcontextprotocol/client';
import { UnauthorizedError as UnauthorizedErrorV1 } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken } from '../../test-support/oauth-flow.ts';
import { ScriptedOAuthProvider } from '../../test-support/sdk-oauth-provider.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { mcp } from './helpers.ts';

// Every client generation through the real OAuth flow: discovery from the 401, DCR, the
// browser leg (ScriptedBrowser logs alice in and consents), code exchange, then MCP calls,
// and the step-up round trip on notes_add.
// Each SDK registers itself by DCR (with `scope` set to the resource's scopes, as both do).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const scopesOf = (url: URL | undefined) => new Set(url?.searchParams.get('scope')?.split(' '));
const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;

/** A fetch that records the MCP headers of each POST, to see what the client actually sent. */
function recordingFetch(sent: Array<Record<string, string | null>>) {
  return async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    if ((init?.method ?? 'GET') === 'POST' && (input instanceof Request ? input.url : String(input)).startsWith(stack.mcpUrl)) {
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }) : {};
      sent.push({
        body: body.method ?? null,
        'mcp-protocol-version': headers.get('mcp-protocol-version'),
        'mcp-method': headers.get('mcp-method'),
        'mcp-name': headers.get('mcp-name'),
      });
    }
    return fetch(input, init);
  };
}

describe('MCP 2026-07-28 client: SDK v2 with versionNegotiation auto', () => {
  it('authorizes, speaks 2026-07-28 statelessly, and steps up for notes:write', async () => {
    const provider = new ScriptedOAuthProvider({ user: DEMO_USERS.alice, clientName: 'SDK v2 client' });
    const sent: Array<Record<string, string | null>> = [];
    const url = new URL(stack.mcpUrl);
    const options = { authProvider: provider, fetch: recordingFetch(sent) };
    const client = new ClientV2({ name: 'v2-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });

    let transport = new TransportV2(url, options);
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedErrorV2);
    // The challenged scopes (the SDK adds offline_access, which the AS advertises).
    expect(scopesOf(provider.authorizationUrls[0])).toEqual(new Set(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'offline_access']));
    expect(provider.authorizationUrls[0]!.searchParams.get('resource')).toBe(stack.mcpUrl);
    await transport.finishAuth(provider.callbackParams());

    transport = new TransportV2(url, options);
    await client.connect(transport);
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');

    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(['notes_add', 'notes_delete', 'notes_list', 'upstream_profile', 'whoami']);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({ email: 'alice@example.com', scopes: ['mcp:tools', 'mcp:resources', 'mcp:prompts'] });
    // Stateless 2026-07-28 requests with the mirrored headers, no initialize.
    expect(sent).toContainEqual({ body: 'tools/call', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'whoami' });
    expect(sent.map((request) => request.body)).not.toContain('initialize');

    // Step-up: 403 insufficient_scope → the transport re-authorizes with the union of scopes.
    await expect(client.callTool({ name: 'notes_add', arguments: { text: 'from v2' } })).rejects.toBeInstanceOf(UnauthorizedErrorV2);
    expect(scopesOf(provider.authorizationUrls[1])).toEqual(new Set(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write', 'offline_access']));
    await transport.finishAuth(provider.callbackParams());
    const added = await client.callTool({ name: 'notes_add', arguments: { text: 'from v2' } });
    expect(added.isError).toBeFalsy();
    expect(added.structuredContent).toMatchObject({ note: { text: 'from v2' } });
    const notes = await client.callTool({ name: 'notes_list', arguments: {} });
    expect(text(notes)).toContain('from v2');
    await client.close();
  });
});

describe('2025-era clients: SDK v1 (@modelcontextprotocol/sdk 1.x) with the initialize handshake', () => {
  it('authorizes, initializes (2025-11-25), calls tools, and steps up for notes:write', async () => {
    // Registered without refresh_token: a v1 client holding a refresh token answers a 403
    // by refreshing (same scopes) rather than re-authorizing; see the report.
    const provider = new ScriptedOAuthProvider({ user: DEMO_USERS.bob, clientName: 'SDK v1 client', grantTypes: ['authorization_code'] });
    const sent: Array<Record<string, string | null>> = [];
    const url = new URL(stack.mcpUrl);
    const client = new ClientV1({ name: 'v1-test', version: '1.0.0' });

    let transport = new TransportV1(url, { authProvider: provider, fetch: recordingFetch(sent) });
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedErrorV1);
    await transport.finishAuth(provider.callbackCode());

    transport = new TransportV1(url, { authProvider: provider, fetch: recordingFetch(sent) });
    await client.connect(transport);
    expect(transport.protocolVersion).toBe('2025-11-25');
    expect(sent.filter((request) => request.body === 'initialize')).toHaveLength(2); // refused once (401), then served

    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({ email: 'bob@example.com' });
    const resources = await client.listResources();
    expect(resources.resources).toHaveLength(1);
    const prompt = await client.getPrompt({ name: 'summarize_notes', arguments: {} });
    expect(prompt.messages).toHaveLength(2);

    await expect(client.callTool({ name: 'notes_add', arguments: { text: 'from v1' } })).rejects.toBeInstanceOf(UnauthorizedErrorV1);
    expect(scopesOf(provider.authorizationUrls.at(-1))).toEqual(new Set(['mcp:tools', 'notes:write']));
    await transport.finishAuth(provider.callbackCode());
    const added = await client.callTool({ name: 'notes_add', arguments: { text: 'from v1' } });
    expect(added.structuredContent).toMatchObject({ note: { text: 'from v1' } });
    await client.close();
  });

  it('serves a 2025-06-18 initialize and the requests that follow it', async () => {
    const { tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
    const init = await mcp(stack.mcpUrl, {
      token: tokens.access_token,
      era: 'legacy',
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'old-client', version: '0.1' } },
    });
    expect(init.status).toBe(200);
    expect(init.body.result.protocolVersion).toBe('2025-06-18');
    expect(init.body.result.serverInfo).toMatchObject({ name: 'mcp-oauth-reference' });
    expect(init.body.result.capabilities).toMatchObject({ tools: {}, resources: {}, prompts: {} });

    const call = await mcp(stack.mcpUrl, {
      token: tokens.access_token,
      era: 'legacy',
      method: 'tools/call',
      params: { name: 'whoami', arguments: {} },
      headers: { 'mcp-protocol-version': '2025-06-18' },
    });
    expect(call.status).toBe(200);
    expect(call.body.result.structuredContent.email).toBe('alice@example.com');
  });
});
