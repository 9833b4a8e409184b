import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { createLogger } from '../src/log.ts';
import { mcp, startResourceServerFor, type TestResourceServer } from './helpers.ts';

// Tokens signed by a stand-in AS so the test controls them; the logger is the server's own
// (createLogger's redaction and serializers) at trace level, writing to memory.
let as: StandInAuthorizationServer;
let rs: TestResourceServer;
const lines: string[] = [];
beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger('trace', sink);
  rs = await startResourceServerFor(as, {}, logger);
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

describe('logs', () => {
  it('never contain token material, whatever the request carried', async () => {
    const valid = await as.sign(rs.mcpUrl);
    const limited = await as.sign(rs.mcpUrl, { scope: 'mcp:tools' });
    const forged = await as.sign(rs.mcpUrl, { iss: 'http://127.0.0.1:1' });
    expect((await mcp(rs.mcpUrl, { token: valid, method: 'tools/call', params: { name: 'whoami', arguments: {} } })).status).toBe(200);
    expect((await mcp(rs.mcpUrl, { token: limited, method: 'resources/list' })).status).toBe(403);
    expect((await mcp(rs.mcpUrl, { token: forged, method: 'tools/list' })).status).toBe(401);
    expect((await mcp(`${rs.mcpUrl}?access_token=${valid}`, { method: 'tools/list' })).status).toBe(401);
    expect((await mcp(`${rs.mcpUrl}?access_token=${valid}`, { token: 'not-a-jwt', method: 'tools/list' })).status).toBe(401);

    // The requests were logged (with their path) …
    const requests = lines.map((line) => JSON.parse(line) as { msg: string; req: { path: string } }).filter((entry) => entry.msg === 'incoming request');
    expect(requests.length).toBeGreaterThanOrEqual(5);
    expect(requests.every((entry) => entry.req.path === '/mcp')).toBe(true);
    // … and no line holds any token, nor any of its parts (header, payload or signature).
    for (const token of [valid, limited, forged]) {
      for (const part of token.split('.')) expect(lines.filter((line) => line.includes(part))).toEqual([]);
    }
    expect(lines.filter((line) => line.includes('access_token=') || line.includes('not-a-jwt'))).toEqual([]);
  });
});
