import { afterEach, describe, expect, it } from 'vitest';
import { probeChallenge, requireUnauthorized } from '../src/flow/discover.ts';
import { Trace } from '../src/trace.ts';
import { PassThrough } from 'node:stream';
import { listen } from './fixtures/servers.ts';
import type { Running } from './fixtures/servers.ts';

function quietTrace(): Trace {
  return new Trace({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() });
}

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serverAnswering(status: number, headers: Record<string, string>): Promise<URL> {
  server = await listen((req, res) => {
    req.resume();
    res.writeHead(status, headers).end('{}');
  });
  return new URL(`${server.origin}/mcp`);
}

describe('the unauthenticated MCP request and its WWW-Authenticate challenge', () => {
  it('reads resource_metadata, scope and the scheme from a Bearer challenge', async () => {
    const url = await serverAnswering(401, {
      'www-authenticate': 'Bearer resource_metadata="http://127.0.0.1:1234/.well-known/oauth-protected-resource/mcp", scope="mcp:tools mcp:prompts"',
    });
    const challenge = await probeChallenge(url, quietTrace());
    expect(challenge).toMatchObject({
      status: 401,
      scheme: 'Bearer',
      resourceMetadataUrl: 'http://127.0.0.1:1234/.well-known/oauth-protected-resource/mcp',
      scope: 'mcp:tools mcp:prompts',
    });
    expect(challenge.error).toBeUndefined();
    expect(() => requireUnauthorized(challenge, url)).not.toThrow();
  });

  it('reads error and error_description, and is not fooled by "insufficient_scope" into a scope', async () => {
    const url = await serverAnswering(401, {
      'www-authenticate': 'Bearer error="invalid_token", error_description="The token expired", resource_metadata="http://127.0.0.1:9/prm"',
    });
    const challenge = await probeChallenge(url, quietTrace());
    expect(challenge.error).toBe('invalid_token');
    expect(challenge.errorDescription).toBe('The token expired');
    expect(challenge.scope).toBeUndefined();
    expect(challenge.resourceMetadataUrl).toBe('http://127.0.0.1:9/prm');
  });

  it('sends a POST with an MCP JSON-RPC body', async () => {
    let seen: { method?: string; type?: string; accept?: string; body: string } = { body: '' };
    server = await listen(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      seen = { method: req.method, type: req.headers['content-type'], accept: req.headers.accept, body };
      res.writeHead(401, { 'www-authenticate': 'Bearer scope="a"' }).end();
    });
    await probeChallenge(new URL(`${server.origin}/mcp`), quietTrace());
    expect(seen.method).toBe('POST');
    expect(seen.type).toBe('application/json');
    expect(seen.accept).toContain('text/event-stream');
    expect(JSON.parse(seen.body)).toMatchObject({ jsonrpc: '2.0', method: 'initialize' });
  });

  it('accepts a 401 without WWW-Authenticate (well-known fallback comes next)', async () => {
    const url = await serverAnswering(401, {});
    const challenge = await probeChallenge(url, quietTrace());
    expect(challenge.header).toBeUndefined();
    expect(challenge.resourceMetadataUrl).toBeUndefined();
    expect(() => requireUnauthorized(challenge, url)).not.toThrow();
  });

  it('refuses a server that does not answer 401', async () => {
    const url = await serverAnswering(200, { 'content-type': 'application/json' });
    const challenge = await probeChallenge(url, quietTrace());
    expect(() => requireUnauthorized(challenge, url)).toThrow(/does not ask for authorization/);
  });

  it('prints the challenge as an NDJSON step with its timing', async () => {
    const url = await serverAnswering(401, { 'www-authenticate': 'Bearer resource_metadata="http://127.0.0.1:9/prm", scope="mcp:tools"' });
    const out = new PassThrough();
    await probeChallenge(url, new Trace({ json: true, verbose: false, stdout: out, stderr: new PassThrough() }));
    const line = JSON.parse(String(out.read())) as { ms?: unknown };
    expect(line).toMatchObject({ step: 'challenge', status: 401, resourceMetadata: 'http://127.0.0.1:9/prm', scope: 'mcp:tools' });
    expect(typeof line.ms).toBe('number');
  });
});
