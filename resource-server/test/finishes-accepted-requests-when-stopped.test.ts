/**
 * A rolling restart must not fail requests: on SIGTERM the resource server (a real child
 * process) answers /readyz 503 at once so the balancer stops sending work, keeps serving
 * through SHUTDOWN_GRACE_SECONDS, finishes a request it had accepted, and then exits 0.
 * A stand-in AS signs the token (named so: the subject is the resource server's shutdown).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test-support/ports.ts';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { MODERN, mcp } from './helpers.ts';
import { until } from '../../test-support/until.ts';

let as: StandInAuthorizationServer;
let child: ChildProcess;
let mcpUrl: string;

const readyzStatus = async () => (await fetch(new URL('/readyz', mcpUrl))).status;

beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  child = spawn(process.execPath, [resolve(import.meta.dirname, '../src/main.ts')], {
    env: { ...process.env, RESOURCE_URL: mcpUrl, AUTH_SERVER_ISSUER: as.issuer, STORE: 'memory', LOG_LEVEL: 'silent', SHUTDOWN_GRACE_SECONDS: '5' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await until('the resource server to be ready', async () => (await readyzStatus()) === 200);
});
afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await as?.down();
});

describe('SIGTERM', () => {
  it('drains: not ready at once, still serving, the accepted request finishes, then exit 0', async () => {
    const token = await as.sign(mcpUrl);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/list',
      params: {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN,
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    });
    // A request accepted before the signal: its body is still on the way.
    const { port } = new URL(mcpUrl);
    const inFlight = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/mcp',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': 'tools/list',
        'content-length': Buffer.byteLength(body),
      },
    });
    const answered = once(inFlight, 'response') as Promise<[import('node:http').IncomingMessage]>;
    inFlight.write(body.slice(0, 20));
    await sleep(50); // the request is on its way in; the grace period keeps the listener open either way
    const exited = once(child, 'exit');
    child.kill('SIGTERM');

    await until('/readyz to answer 503', async () => (await readyzStatus()) === 503);
    expect(await (await fetch(new URL('/readyz', mcpUrl))).json()).toEqual({ status: 'draining' });
    // Still serving new work during the grace period.
    expect((await mcp(mcpUrl, { token, method: 'tools/list' })).status).toBe(200);

    inFlight.end(body.slice(20));
    const [response] = await answered;
    let text = '';
    for await (const chunk of response) text += String(chunk);
    expect(response.statusCode).toBe(200);
    expect(text).toContain('"id":7');
    expect(text).toContain('whoami');

    const [code] = await exited;
    expect(code).toBe(0);
  });
});
