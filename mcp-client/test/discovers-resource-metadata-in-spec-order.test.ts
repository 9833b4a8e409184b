import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { discoverResourceMetadata } from '../src/flow/discover.ts';
import { Trace } from '../src/trace.ts';
import { listen, sendJson } from './fixtures/servers.ts';
import type { Running } from './fixtures/servers.ts';

const trace = () => new Trace({ json: true, verbose: false, stdout: new PassThrough(), stderr: new PassThrough() });

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A resource server whose PRM lives only at `servedAt`; records every path asked for. */
async function rs(servedAt: string[], resourcePath = '/mcp'): Promise<{ seen: string[]; origin: string }> {
  const seen: string[] = [];
  server = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push(path);
    if (servedAt.includes(path))
      return sendJson(res, 200, {
        resource: `${server?.origin}${resourcePath}`,
        authorization_servers: ['http://127.0.0.1:4000'],
        scopes_supported: ['mcp:tools'],
      });
    sendJson(res, 404, {});
  });
  return { seen, origin: server.origin };
}

describe('protected resource metadata discovery (RFC 9728, MCP order)', () => {
  it('uses the challenged resource_metadata URL and nothing else', async () => {
    const { seen, origin } = await rs(['/custom/prm']);
    const result = await discoverResourceMetadata(new URL(`${origin}/mcp`), { status: 401, resourceMetadataUrl: `${origin}/custom/prm` }, trace());
    expect(seen).toEqual(['/custom/prm']);
    expect(result.url).toBe(`${origin}/custom/prm`);
    expect(result.resource).toBe(`${origin}/mcp`);
    expect(result.match).toBe('exact');
  });

  it('without a challenged URL, tries the path-aware well-known URL first', async () => {
    const { seen, origin } = await rs(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']);
    const result = await discoverResourceMetadata(new URL(`${origin}/mcp`), { status: 401 }, trace());
    expect(seen).toEqual(['/.well-known/oauth-protected-resource/mcp']);
    expect(result.url).toBe(`${origin}/.well-known/oauth-protected-resource/mcp`);
  });

  it('falls back to the root well-known URL when the path-aware one is 404', async () => {
    const { seen, origin } = await rs(['/.well-known/oauth-protected-resource']);
    const result = await discoverResourceMetadata(new URL(`${origin}/mcp`), { status: 401 }, trace());
    expect(seen).toEqual(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']);
    expect(result.url).toBe(`${origin}/.well-known/oauth-protected-resource`);
    expect(result.tried.map((r) => r.status)).toEqual([404, 200]);
  });

  it('fails with the URLs it tried when neither exists', async () => {
    const { origin } = await rs([]);
    await expect(discoverResourceMetadata(new URL(`${origin}/mcp`), { status: 401 }, trace())).rejects.toMatchObject({
      code: 'no_resource_metadata',
      message: expect.stringContaining('/.well-known/oauth-protected-resource/mcp'),
    });
  });

  it('refuses metadata whose resource is another server', async () => {
    const { origin } = await rs(['/.well-known/oauth-protected-resource/mcp'], '/other');
    await expect(discoverResourceMetadata(new URL(`${origin}/mcp`), { status: 401 }, trace())).rejects.toMatchObject({ code: 'resource_mismatch' });
  });

  it('treats scheme/host case and a trailing slash as the same resource', async () => {
    const { origin } = await rs(['/.well-known/oauth-protected-resource/mcp'], '/mcp/');
    const result = await discoverResourceMetadata(new URL(`${origin.replace('http', 'HTTP')}/mcp`), { status: 401 }, trace());
    expect(result.match).toBe('exact');
    expect(result.resource).toBe(`${origin}/mcp/`); // sent verbatim as the PRM says
  });
});
