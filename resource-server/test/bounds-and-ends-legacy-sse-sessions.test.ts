/**
 * The deprecated HTTP+SSE transport (LEGACY_SSE=true) as a raw client sees it: the stream
 * announces its endpoint and carries the answers to a 2024-11-05 session; every request
 * meets the /mcp gate (the same 401 and 403 challenges, the same Origin check); a session
 * answers only its owner (subject and client) and ends with its token or when idle; sessions
 * are bounded per user and overall (429); open streams end when the server stops; and none
 * of it exists unless turned on. A stand-in AS signs the tokens (the test is about the
 * resource server's sessions); time moves by setting the clock, never by waiting.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { insufficientScopeChallenge, mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';
import { openSse, postMessage, type SseStream } from './sse-stream.ts';

const IDLE_SECONDS = 60;
let as: StandInAuthorizationServer;
let rs: TestResourceServer;
let sseUrl: string;
const opened: SseStream[] = [];

beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  rs = await startResourceServerFor(as, {
    LEGACY_SSE: 'true',
    LEGACY_SSE_MAX_SESSIONS: '3',
    LEGACY_SSE_MAX_SESSIONS_PER_USER: '2',
    LEGACY_SSE_IDLE_SECONDS: String(IDLE_SECONDS),
  });
  sseUrl = `${rs.mcpUrl}/sse`;
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

/** Moves the clock by `seconds` for what follows (Date only: sockets and timers run as usual). */
function moveClock(seconds: number) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + seconds * 1000);
}
const sweep = () => rs.app.legacySse!.sweep();

// Each test starts with no session: the previous test's are closed as idle, and their end awaited.
afterEach(async () => {
  moveClock(IDLE_SECONDS + 1);
  sweep();
  vi.useRealTimers();
  await Promise.all(opened.splice(0).map((stream) => stream.ended));
  expect(rs.app.legacySse!.size).toBe(0);
});

const tokenFor = (subject: string, claims: Record<string, unknown> = {}) => as.sign(rs.mcpUrl, { sub: subject, client_id: 'client-1', ...claims });
async function open(token?: string, headers?: Record<string, string>) {
  const stream = await openSse(sseUrl, { ...(token ? { token } : {}), ...(headers ? { headers } : {}) });
  opened.push(stream);
  return stream;
}
const initialize = {
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'legacy-raw', version: '0.1' } },
};
const whoami = (id: number) => ({ id, method: 'tools/call', params: { name: 'whoami', arguments: {} } });

async function initialized(token: string) {
  const stream = await open(token);
  expect((await postMessage(stream.endpoint!, initialize, { token })).status).toBe(202);
  expect((await stream.next())?.event).toBe('message');
  expect((await postMessage(stream.endpoint!, { method: 'notifications/initialized' }, { token })).status).toBe(202);
  return stream;
}
async function nextMessage(stream: SseStream) {
  const event = await stream.next();
  expect(event?.event).toBe('message');
  return JSON.parse(event!.data) as { result: { structuredContent: { scopes: string[] } } };
}

describe('a session', () => {
  it('announces its endpoint, then answers a 2024-11-05 session on the stream; each POST is 202', async () => {
    const token = await tokenFor('bob');
    const stream = await open(token);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.endpoint!.origin + stream.endpoint!.pathname).toBe(`${rs.mcpUrl}/messages`);
    expect(stream.endpoint!.searchParams.get('sessionId')).toMatch(/^[0-9a-f-]{36}$/);

    const posted = await postMessage(stream.endpoint!, initialize, { token });
    expect(posted.status).toBe(202);
    const init = await nextMessage(stream);
    expect(init).toMatchObject({ id: 1, result: { protocolVersion: '2024-11-05', serverInfo: { name: 'mcp-oauth-reference' }, capabilities: { tools: {} } } });
    expect((await postMessage(stream.endpoint!, { method: 'notifications/initialized' }, { token })).status).toBe(202);

    expect((await postMessage(stream.endpoint!, whoami(2), { token })).status).toBe(202);
    expect(await nextMessage(stream)).toMatchObject({ id: 2, result: { structuredContent: { subject: 'bob', clientId: 'client-1' } } });
  });

  it('follows the owner’s newer token: the tools see its scopes', async () => {
    const first = await tokenFor('bob');
    const stream = await initialized(first);
    const wider = await tokenFor('bob', { scope: 'mcp:tools mcp:resources mcp:prompts notes:write' });
    expect((await postMessage(stream.endpoint!, whoami(2), { token: wider })).status).toBe(202);
    expect((await nextMessage(stream)).result.structuredContent.scopes).toEqual(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write']);
  });

  it('answers no one but its owner: another user, another client and an unknown id get the same 404', async () => {
    const stream = await initialized(await tokenFor('bob'));
    const unknown = new URL(stream.endpoint!);
    unknown.searchParams.set('sessionId', crypto.randomUUID());
    const notFound = await postMessage(unknown, whoami(2), { token: await tokenFor('alice') });
    expect(notFound.status).toBe(404);

    for (const token of [await tokenFor('alice'), await tokenFor('bob', { client_id: 'client-2' })]) {
      const refused = await postMessage(stream.endpoint!, whoami(2), { token });
      expect(refused.status).toBe(404);
      expect(refused.body).toEqual(notFound.body);
    }
    // Nothing reached the session: its next message answers the owner's own request.
    expect((await postMessage(stream.endpoint!, whoami(3), { token: await tokenFor('bob') })).status).toBe(202);
    expect(await nextMessage(stream)).toMatchObject({ id: 3 });
  });

  it('refuses a POST without sessionId (400) and a body that is not JSON-RPC (400)', async () => {
    const token = await tokenFor('bob');
    const stream = await open(token);
    const bare = new URL(stream.endpoint!);
    bare.search = '';
    expect((await postMessage(bare, whoami(1), { token })).status).toBe(400);
    const notRpc = await fetch(stream.endpoint!, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"hello":"world"}',
    });
    expect(notRpc.status).toBe(400);
    expect(await notRpc.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
  });
});

describe('the gate of /mcp', () => {
  it('challenges a stream or a POST without a valid token exactly as /mcp does', async () => {
    const mcpChallenge = (await mcp(rs.mcpUrl, { method: 'tools/list' })).headers.get('www-authenticate');
    const noToken = await open();
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toBe(mcpChallenge);

    const expired = await tokenFor('bob', { exp: Math.floor(Date.now() / 1000) - 60 });
    const refused = await open(expired);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe((await mcp(rs.mcpUrl, { token: expired, method: 'tools/list' })).headers.get('www-authenticate'));
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", scope="mcp:tools mcp:resources mcp:prompts", resource_metadata=/);

    const stream = await open(await tokenFor('bob'));
    const anonymous = await postMessage(stream.endpoint!, whoami(1));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe(mcpChallenge);
    const inQuery = new URL(stream.endpoint!);
    inQuery.searchParams.set('access_token', await tokenFor('bob'));
    expect((await postMessage(inQuery, whoami(1))).status).toBe(401);
  });

  it('decides each POST’s scopes: notes_add without notes:write is 403 with the step-up challenge of /mcp', async () => {
    const token = await tokenFor('bob');
    const stream = await initialized(token);
    const call = { id: 2, method: 'tools/call', params: { name: 'notes_add', arguments: { text: 'x' } } };
    const refused = await postMessage(stream.endpoint!, call, { token });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe(
      insufficientScopeChallenge(rs.resourceMetadataUrl, 'mcp:tools notes:write', 'tools/call notes_add needs the scopes mcp:tools notes:write.'),
    );
    const onMcp = await mcp(rs.mcpUrl, { token, era: 'legacy', method: 'tools/call', params: call.params });
    expect(refused.headers.get('www-authenticate')).toBe(onMcp.headers.get('www-authenticate'));

    const stepped = await tokenFor('bob', { scope: 'mcp:tools notes:write' });
    expect((await postMessage(stream.endpoint!, call, { token: stepped })).status).toBe(202);
    expect(await nextMessage(stream)).toMatchObject({ id: 2, result: { structuredContent: { note: { text: 'x' } } } });
  });

  it('checks Origin on the stream, the POSTs and their preflights', async () => {
    const token = await tokenFor('bob');
    const foreign = await open(token, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ error: 'forbidden_origin' });
    const preflight = await fetch(`${rs.mcpUrl}/messages`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);

    const own = new URL(rs.mcpUrl).origin;
    const stream = await open(token, { origin: own });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('access-control-allow-origin')).toBe(own);
    expect((await postMessage(stream.endpoint!, whoami(1), { token, headers: { origin: 'http://evil.example' } })).status).toBe(403);
  });
});

describe('how long a session lasts', () => {
  it('ends when its token expires, even if a newer token arrives afterwards', async () => {
    const stream = await initialized(await tokenFor('bob', { exp: Math.floor(Date.now() / 1000) + 30 }));
    moveClock(31);
    // Signed on the moved clock, so valid: the gate lets it through, the session does not.
    const fresh = await tokenFor('bob');
    expect((await postMessage(stream.endpoint!, whoami(2), { token: fresh })).status).toBe(404);
    await stream.ended;
  });

  it('ends once idle; until then a silent stream gets keep-alive comments', async () => {
    const token = await tokenFor('bob');
    const stream = await initialized(token);
    moveClock(30);
    sweep();
    expect(await stream.next()).toEqual({ event: 'comment', data: 'keep-alive' });
    expect((await postMessage(stream.endpoint!, whoami(2), { token })).status).toBe(202);
    expect(await nextMessage(stream)).toMatchObject({ id: 2 });

    moveClock(IDLE_SECONDS - 1);
    sweep();
    expect(await stream.next()).toEqual({ event: 'comment', data: 'keep-alive' }); // idle 59 s: still there
    expect((await postMessage(stream.endpoint!, whoami(3), { token })).status).toBe(202);
    await nextMessage(stream);
    moveClock(IDLE_SECONDS);
    sweep();
    await stream.ended;
    expect(await stream.next()).toBeUndefined();
    expect((await postMessage(stream.endpoint!, whoami(4), { token })).status).toBe(404);
  });

  it('bounds sessions per user and overall (429); an idle session closed frees its place', async () => {
    const bob = await tokenFor('bob');
    await open(bob);
    await open(bob);
    const third = await open(bob);
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ error: 'too_many_sessions_for_user' });

    expect((await open(await tokenFor('alice'))).status).toBe(200);
    const beyond = await open(await tokenFor('carol'));
    expect(beyond.status).toBe(429);
    expect(beyond.body).toMatchObject({ error: 'too_many_sessions' });

    moveClock(IDLE_SECONDS);
    sweep();
    vi.useRealTimers();
    expect((await open(await tokenFor('carol', { exp: Math.floor(Date.now() / 1000) + 3600 }))).status).toBe(200);
  });
});

describe('LEGACY_SSE unset', () => {
  it('serves no /sse and no /messages', async () => {
    const plain = await startResourceServerFor(as);
    try {
      const token = await as.sign(plain.mcpUrl);
      expect((await fetch(`${plain.mcpUrl}/sse`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
      expect((await postMessage(`${plain.mcpUrl}/messages?sessionId=x`, whoami(1), { token })).status).toBe(404);
      expect((await fetch(plain.mcpUrl, { headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
    } finally {
      await plain.close();
    }
  });
});

describe('shutdown', () => {
  it('ends open streams, so the server’s close completes', async () => {
    const server = await startResourceServerFor(as, { LEGACY_SSE: 'true' });
    const stream = await openSse(`${server.mcpUrl}/sse`, { token: await as.sign(server.mcpUrl) });
    expect(stream.status).toBe(200);
    await server.close();
    await stream.ended;
    expect(await stream.next()).toBeUndefined();
  });
});
