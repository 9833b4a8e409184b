import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { callTool, insufficientScopeChallenge, mcp } from './helpers.ts';

let stack: Stack;
const tokens: Record<'toolsOnly' | 'initial', string> = { toolsOnly: '', initial: '' };
beforeAll(async () => {
  stack = await startStack();
  const login = (scope: string) =>
    obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, scope }).then((r) => r.tokens);
  tokens.toolsOnly = (await login('mcp:tools')).access_token;
  tokens.initial = (await login('mcp:tools mcp:resources mcp:prompts')).access_token;
});
afterAll(() => stack?.close());

const notesOf = async (token: string) => (await callTool(stack.mcpUrl, token, 'notes_list')).structuredContent.notes as unknown[];

function expectInsufficientScope(response: Awaited<ReturnType<typeof mcp>>, scopes: string, description: string) {
  expect(response.status).toBe(403);
  expect(response.headers.get('www-authenticate')).toBe(insufficientScopeChallenge(stack.resourceMetadataUrl, scopes, description));
  expect(response.body).toEqual({ error: 'insufficient_scope', error_description: description, scope: scopes });
}

describe('per-operation scopes (real stack, tokens from the real OAuth flow)', () => {
  it('lets mcp:tools list and call the reading tools', async () => {
    const listed = await mcp(stack.mcpUrl, { token: tokens.toolsOnly, method: 'tools/list' });
    expect(listed.status).toBe(200);
    expect(listed.body.result.tools.map((tool: { name: string }) => tool.name).sort()).toEqual([
      'notes_add',
      'notes_delete',
      'notes_list',
      'upstream_profile',
      'whoami',
    ]);
    expect((await callTool(stack.mcpUrl, tokens.toolsOnly, 'whoami')).structuredContent.scopes).toEqual(['mcp:tools']);
    expect(await notesOf(tokens.toolsOnly)).toEqual([]);
  });

  it('needs mcp:resources for resources and mcp:prompts for prompts', async () => {
    expectInsufficientScope(
      await mcp(stack.mcpUrl, { token: tokens.toolsOnly, method: 'resources/list' }),
      'mcp:resources',
      'resources/list needs the scopes mcp:resources.',
    );
    expectInsufficientScope(
      await mcp(stack.mcpUrl, { token: tokens.toolsOnly, method: 'prompts/get', params: { name: 'summarize_notes', arguments: {} } }),
      'mcp:prompts',
      'prompts/get summarize_notes needs the scopes mcp:prompts.',
    );
    expect((await mcp(stack.mcpUrl, { token: tokens.initial, method: 'prompts/list' })).status).toBe(200);
  });

  it.each(['modern', 'legacy'] as const)(
    'refuses notes_add without notes:write before the tool runs, naming every scope it needs (%s request)',
    async (era) => {
      const response = await mcp(stack.mcpUrl, {
        token: tokens.initial,
        era,
        method: 'tools/call',
        params: { name: 'notes_add', arguments: { text: 'should not be saved' } },
      });
      expectInsufficientScope(response, 'mcp:tools notes:write', 'tools/call notes_add needs the scopes mcp:tools notes:write.');
      expect(await notesOf(tokens.initial)).toEqual([]);
    },
  );

  it('refuses notes_delete the same way', async () => {
    const response = await mcp(stack.mcpUrl, { token: tokens.toolsOnly, method: 'tools/call', params: { name: 'notes_delete', arguments: { id: 'x' } } });
    expectInsufficientScope(response, 'mcp:tools notes:write', 'tools/call notes_delete needs the scopes mcp:tools notes:write.');
  });

  it('decides a legacy batch by all of its requests together', async () => {
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.toolsOnly}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'resources/list', params: {} },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'x' } } },
      ]),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('scope="mcp:tools mcp:resources notes:write"');
  });

  it('decides from the Mcp-Name header, decoding its Base64 form', async () => {
    const encoded = `=?base64?${Buffer.from('notes_add').toString('base64')}?=`;
    const response = await mcp(stack.mcpUrl, {
      token: tokens.initial,
      method: 'tools/call',
      params: { name: 'notes_add', arguments: { text: 'x' } },
      headers: { 'mcp-name': encoded },
    });
    expectInsufficientScope(response, 'mcp:tools notes:write', 'tools/call notes_add needs the scopes mcp:tools notes:write.');
  });

  it.each([
    [
      'Mcp-Name names an allowed tool, the body a write tool',
      { 'mcp-name': 'whoami' },
      "Header mismatch: Mcp-Name header value 'whoami' does not match body value 'notes_add'",
    ],
    [
      'Mcp-Method names another method',
      { 'mcp-method': 'tools/list' },
      "Header mismatch: Mcp-Method header value 'tools/list' does not match body value 'tools/call'",
    ],
    [
      'Mcp-Name is Base64 of another tool',
      { 'mcp-name': `=?base64?${Buffer.from('whoami').toString('base64')}?=` },
      "Header mismatch: Mcp-Name header value 'whoami' does not match body value 'notes_add'",
    ],
  ])('refuses a request whose header contradicts its body with 400 HeaderMismatch: %s', async (_label, headers, message) => {
    const response = await mcp(stack.mcpUrl, {
      token: tokens.initial,
      id: 7,
      method: 'tools/call',
      params: { name: 'notes_add', arguments: { text: 'smuggled' } },
      headers,
    });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32020, message } });
    expect(await notesOf(tokens.initial)).toEqual([]);
  });

  it('step-up: 403 names the scopes, the client re-authorizes with them, the retry succeeds', async () => {
    const call = (token: string) => mcp(stack.mcpUrl, { token, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'after step-up' } } });
    const refused = await call(tokens.initial);
    expect(refused.status).toBe(403);
    const challenged = /scope="([^"]+)"/.exec(refused.headers.get('www-authenticate')!)![1]!.split(' ');
    expect(challenged).toEqual(['mcp:tools', 'notes:write']);

    // The client asks for what it had plus what was challenged (scope accumulation is its job).
    const scope = [...new Set(['mcp:tools', 'mcp:resources', 'mcp:prompts', ...challenged])].join(' ');
    const { tokens: stepped } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice, scope });
    expect(stepped.scope).toBe('mcp:tools mcp:resources mcp:prompts notes:write');

    const retried = await call(stepped.access_token);
    expect(retried.status).toBe(200);
    expect(retried.body.result.structuredContent.note.text).toBe('after step-up');
    expect(await notesOf(tokens.initial)).toEqual([retried.body.result.structuredContent.note]);
  });
});
