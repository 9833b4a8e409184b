import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, type DemoUser } from '../../test-support/oauth-flow.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { callTool, mcp } from './helpers.ts';

const ALL_SCOPES = 'mcp:tools mcp:resources mcp:prompts notes:write';
const ALICE_SUB = '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

describe.each([
  ['in process', () => ({})],
  ['in Redis', () => ({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'notes-test:' })],
])('per-user tools and notes, kept %s (real stack, real OAuth flow)', (store, env) => {
  let stack: Stack;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    stack = await startStack({ resourceServerEnv: env() });
    const login = (user: DemoUser) =>
      obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user, scope: ALL_SCOPES }).then((r) => r.tokens.access_token);
    [alice, bob] = [await login(DEMO_USERS.alice), await login(DEMO_USERS.bob)];
  });
  afterAll(() => stack?.close());

  it('whoami returns the identity from the verified token', async () => {
    const result = await callTool(stack.mcpUrl, alice, 'whoami');
    expect(result.structuredContent).toMatchObject({
      subject: ALICE_SUB,
      email: 'alice@example.com',
      name: 'alice',
      scopes: ['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write'],
    });
    expect(result.structuredContent.clientId).toEqual(expect.any(String));
    expect(Date.parse(result.structuredContent.expiresAt)).toBeGreaterThan(Date.now());
    expect((await callTool(stack.mcpUrl, bob, 'whoami')).structuredContent.email).toBe('bob@example.com');
  });

  it('alice never sees, reads or deletes bob’s notes, whatever ids or URIs she sends', async () => {
    const bobsNote = (await callTool(stack.mcpUrl, bob, 'notes_add', { text: `bob's secret (${store})` })).structuredContent.note;
    const alicesNote = (await callTool(stack.mcpUrl, alice, 'notes_add', { text: 'alice buys milk' })).structuredContent.note;
    expect(alicesNote).toMatchObject({ id: expect.any(String), text: 'alice buys milk' });

    expect((await callTool(stack.mcpUrl, alice, 'notes_list')).structuredContent.notes).toEqual([alicesNote]);
    expect((await callTool(stack.mcpUrl, bob, 'notes_list')).structuredContent.notes).toEqual([bobsNote]);

    // Deleting bob's note by its id: refused exactly like an unknown id, and the note survives.
    const stolen = await callTool(stack.mcpUrl, alice, 'notes_delete', { id: bobsNote.id });
    expect(stolen.isError).toBe(true);
    expect(stolen.content[0]!.text).toBe(`You have no note with id ${bobsNote.id}.`);
    expect((await callTool(stack.mcpUrl, bob, 'notes_list')).structuredContent.notes).toEqual([bobsNote]);

    // The notes resource: alice's own is listed and readable; bob's URI is "not found".
    const listed = await mcp(stack.mcpUrl, { token: alice, method: 'resources/list' });
    const uris = listed.body.result.resources.map((resource: { uri: string }) => resource.uri);
    expect(uris).toEqual([`notes://users/${ALICE_SUB}`]);
    const own = await mcp(stack.mcpUrl, { token: alice, method: 'resources/read', params: { uri: uris[0] } });
    expect(JSON.parse(own.body.result.contents[0]!.text)).toEqual({ notes: [alicesNote] });
    const bobSub = (await callTool(stack.mcpUrl, bob, 'whoami')).structuredContent.subject;
    const foreign = await mcp(stack.mcpUrl, { token: alice, method: 'resources/read', params: { uri: `notes://users/${bobSub}` } });
    // "Resource not found" is -32602 in 2026-07-28 (-32002 before): the same answer as for a subject that does not exist.
    const missing = await mcp(stack.mcpUrl, { token: alice, method: 'resources/read', params: { uri: 'notes://users/nobody' } });
    expect(foreign.body.error.code).toBe(-32602);
    expect(foreign.body.error.message).toBe(missing.body.error.message.replace('nobody', bobSub));
    expect(JSON.stringify(foreign.body)).not.toContain('secret');

    // The prompt summarises alice's notes only.
    const prompt = await mcp(stack.mcpUrl, { token: alice, method: 'prompts/get', params: { name: 'summarize_notes', arguments: { focus: 'shopping' } } });
    const messages = prompt.body.result.messages;
    expect(JSON.parse(messages[0]!.content.resource.text)).toEqual({ notes: [alicesNote] });
    expect(messages[1]!.content.text).toBe('Summarise my 1 note in a few bullet points, concentrating on shopping.');

    // Alice deletes her own note.
    expect((await callTool(stack.mcpUrl, alice, 'notes_delete', { id: alicesNote.id })).structuredContent).toEqual({ deleted: true, id: alicesNote.id });
    expect((await callTool(stack.mcpUrl, alice, 'notes_list')).structuredContent.notes).toEqual([]);
  });

  if (store === 'in Redis')
    it('keeps the notes in Redis, under the owner’s key', async () => {
      const client = new Redis(redis.url);
      try {
        const bobSub = (await callTool(stack.mcpUrl, bob, 'whoami')).structuredContent.subject;
        // Alice deleted her only note above; bob's note is under his subject.
        expect(await client.keys('notes-test:notes:*')).toEqual([`notes-test:notes:${bobSub}`]);
        const stored = Object.values(await client.hgetall(`notes-test:notes:${bobSub}`)).map((value) => (JSON.parse(value) as { text: string }).text);
        expect(stored).toEqual(["bob's secret (in Redis)"]);
      } finally {
        client.disconnect();
      }
    });
});
