/**
 * A real Redis server for a test file: a testcontainers container when a Docker engine is
 * reachable, otherwise the local `redis-server` binary on a free loopback port (`.ci/run`
 * installs it). Never the machine's own Redis on 6379: tests neither depend on it nor touch it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';

export interface TestRedis {
  url: string;
  /** Where it came from, for test output. */
  kind: 'container' | 'local';
  stop(): Promise<void>;
}

/**
 * `port`: a local redis-server on exactly this port — to bring Redis back where a server
 * under test expects it after an outage (it starts empty: nothing is saved).
 */
export async function startRedis(options: { port?: number } = {}): Promise<TestRedis> {
  if (options.port !== undefined) return startLocal(options.port);
  const container = await startContainer().catch(() => undefined);
  return container ?? startLocal();
}

async function startContainer(): Promise<TestRedis | undefined> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient(); // throws within milliseconds when no engine is reachable
  const { RedisContainer } = await import('@testcontainers/redis');
  const started = await new RedisContainer('redis:7-alpine').start();
  return {
    url: started.getConnectionUrl(),
    kind: 'container',
    stop: async () => {
      await started.stop();
    },
  };
}

async function startLocal(fixedPort?: number): Promise<TestRedis> {
  const port = fixedPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'test-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
    { stdio: 'ignore' },
  );
  const spawnError = once(child, 'error').then(([error]) => {
    throw new Error(`redis-server could not start (${(error as Error).message}); install it (apt-get install redis-server) or run a Docker engine`);
  });
  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([waitForPing(url), spawnError]);
  return {
    url,
    kind: 'local',
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(url: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping(); // PONG, or it throws
      return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    await sleep(50);
  }
  throw new Error(`redis-server did not answer at ${url}`);
}
