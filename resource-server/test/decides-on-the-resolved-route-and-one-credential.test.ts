/**
 * The resource server's gate cannot be sidestepped by spelling: the Origin check applies to
 * every path Fastify routes to the MCP endpoint (`/%6dcp` is `/mcp`), and a request with two
 * Authorization headers — of which Node would silently keep the first — is refused with
 * invalid_request (RFC 6750 §3.1). A stand-in AS signs the tokens (named so: the tests are
 * about the resource server's gate, not about issuing).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { MODERN, startResourceServerFor, type TestResourceServer } from './helpers.ts';

let as: StandInAuthorizationServer;
let rs: TestResourceServer;
let token: string;

beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  rs = await startResourceServerFor(as);
  token = await as.sign(rs.mcpUrl);
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

/** A raw request, so repeated headers and odd paths go out exactly as written. */
function send(path: string, headers: Record<string, string | string[]>, method = 'POST') {
  const { port } = new URL(rs.mcpUrl);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/list',
    params: {
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': MODERN,
          'mcp-method': 'tools/list',
          ...headers,
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += String(chunk)));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(method === 'POST' ? body : undefined);
  });
}

describe('one credential per request', () => {
  it('refuses two Authorization headers with 400 invalid_request, even when both are valid', async () => {
    const answer = await send('/mcp', { authorization: [`Bearer ${token}`, `Bearer ${token}`] });
    expect(answer.status).toBe(400);
    expect(answer.headers['www-authenticate']).toBe(
      `Bearer error="invalid_request", scope="mcp:tools mcp:resources mcp:prompts", resource_metadata="${rs.resourceMetadataUrl}", error_description="The request carries more than one Authorization header."`,
    );
    expect(JSON.parse(answer.text)).toEqual({ error: 'invalid_request', error_description: 'The request carries more than one Authorization header.' });
  });

  it('serves the same request with one header', async () => {
    expect((await send('/mcp', { authorization: `Bearer ${token}` })).status).toBe(200);
  });
});

describe('the Origin check follows the route, not the raw path', () => {
  it.each(['/mcp', '/%6dcp', '/%6D%63%70'])('refuses a foreign origin on %s', async (path) => {
    const answer = await send(path, { authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.text)).toMatchObject({ error: 'forbidden_origin' });
  });

  it('refuses a foreign preflight on an encoded spelling', async () => {
    const answer = await send('/%6dcp', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
    expect(answer.status).toBe(403);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });
});
