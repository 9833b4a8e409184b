/**
 * Malformed and hostile bodies get a client error the client can read — never a 500 and
 * never a stack trace: JSON nested thousands of levels deep (in params, in tool arguments,
 * as a batch array) is refused with HTTP 400 and JSON-RPC -32600 before the MCP SDK sees
 * it, and invalid JSON is a -32700 parse error. A stand-in AS signs the tokens (named so:
 * the test is about the resource server's parsing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { MODERN, mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';

let as: StandInAuthorizationServer;
let rs: TestResourceServer;
let token: string;

beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  rs = await startResourceServerFor(as);
  token = await as.sign(rs.mcpUrl, { scope: 'mcp:tools mcp:resources mcp:prompts notes:write' });
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

async function post(body: string) {
  const response = await fetch(rs.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/list',
    },
    body,
  });
  return { status: response.status, text: await response.text() };
}

const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"${MODERN}","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`;

describe('deeply nested JSON', () => {
  it.each([
    ['in params', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{${meta},"deep":${nested(5000)}}}`],
    ['in tool arguments', `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{${meta},"name":"notes_add","arguments":{"text":${nested(5000)}}}}`],
    ['as the body', nested(5000)],
  ])('is refused %s with 400 and JSON-RPC -32600', async (_where, body) => {
    const answer = await post(body);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'Invalid Request: JSON nested deeper than 64 levels.' },
    });
  });

  it('is accepted at a reasonable depth', async () => {
    const answer = await post(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{${meta},"deep":${nested(40)}}}`);
    expect(answer.status).toBe(200);
  });

  it('counts brackets inside strings as text', async () => {
    const answer = await post(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{${meta},"text":"${'['.repeat(5000)}\\"${'{'.repeat(100)}"}}`);
    expect(answer.status).toBe(200);
  });
});

describe('invalid JSON', () => {
  it.each(['{"jsonrpc":', '{]', 'not json'])('%s is a -32700 parse error', async (body) => {
    const answer = await post(body);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    expect(answer.text).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('a valid request still works', async () => {
    expect((await mcp(rs.mcpUrl, { token, method: 'tools/list' })).status).toBe(200);
  });
});
