/**
 * A rolling restart must not fail requests: on SIGTERM the auth server (a real child
 * process) answers /readyz 503 at once so the balancer stops sending work, keeps serving
 * through SHUTDOWN_GRACE_SECONDS, finishes a registration it had accepted, and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test-support/ports.ts';
import { until } from '../../test-support/until.ts';

let child: ChildProcess;
let issuer: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'as-shutdown-'));
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [resolve(import.meta.dirname, '../src/main.ts')], {
    env: {
      ...process.env,
      ISSUER: issuer,
      IDP_ISSUER: `http://127.0.0.1:${await freePort()}/dex`, // not needed to register clients
      IDP_CLIENT_SECRET: 'unused-in-this-test',
      STORE: 'memory',
      KEYS_FILE: join(dataDir, 'keys.json'),
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_SECONDS: '5',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await until('the auth server to start', async () => (await fetch(`${issuer}/healthz`)).status === 200);
});
afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

const registration = JSON.stringify({ redirect_uris: ['http://127.0.0.1:8976/callback'], application_type: 'native', token_endpoint_auth_method: 'none' });

describe('SIGTERM', () => {
  it('drains: not ready at once, still serving, the accepted request finishes, then exit 0', async () => {
    const { port } = new URL(issuer);
    const inFlight = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/reg',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(registration) },
    });
    const answered = once(inFlight, 'response') as Promise<[IncomingMessage]>;
    inFlight.write(registration.slice(0, 10));
    await sleep(50); // the request is on its way in; the grace period keeps the listener open either way
    const exited = once(child, 'exit');
    child.kill('SIGTERM');

    await until('/readyz to answer 503', async () => (await fetch(`${issuer}/readyz`)).status === 503);
    expect(await (await fetch(`${issuer}/readyz`)).json()).toEqual({ status: 'draining' });
    const during = await fetch(`${issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: registration });
    expect(during.status).toBe(201);

    inFlight.end(registration.slice(10));
    const [response] = await answered;
    let text = '';
    for await (const chunk of response) text += String(chunk);
    expect(response.statusCode).toBe(201);
    expect((JSON.parse(text) as { client_id?: unknown }).client_id).toBeTruthy();

    const [code] = await exited;
    expect(code).toBe(0);
  });
});
