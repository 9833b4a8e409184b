/**
 * Real Redis topologies for a test file, from the local `redis-server` binary (Debian's
 * redis-server package; `.ci/run` installs it): a Redis Cluster of three masters made with
 * `redis-cli --cluster create`, and a primary with a replica watched by a Sentinel. All on
 * loopback ports below the ephemeral range; nothing is saved to disk.
 *
 * Waits are bounded polls for a state Redis reports (cluster_state:ok, a replica in sync, a
 * new primary), never fixed sleeps.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { until } from './until.ts';

const run = promisify(execFile);

export interface RedisNode {
  host: string;
  port: number;
}

interface Server {
  port: number;
  child: ChildProcess;
}

async function startServer(dir: string, args: string[], port: number): Promise<Server> {
  const child = spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
  const failed = once(child, 'error').then(([error]) => {
    throw new Error(`redis-server could not start (${(error as Error).message}); install it (apt-get install redis-server)`);
  });
  await Promise.race([until(`redis-server on ${port} answers PING`, async () => (await command(port, 'PING')) === 'PONG'), failed]);
  return { port, child };
}

const base = (port: number, dir: string) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  dir,
  '--protected-mode',
  'yes',
];

async function stopServer(server: Server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGKILL');
  await once(server.child, 'exit');
}

/** One command on a fresh connection; undefined when the server does not answer. */
async function command(port: number, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(String(args[0]), ...args.slice(1).map(String));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

export interface TestRedisCluster {
  /** The masters, as REDIS_CLUSTER_NODES lists them. */
  nodes: RedisNode[];
  /** `REDIS_CLUSTER_NODES` for the servers under test. */
  env: string;
  /** Which master serves a key (by CLUSTER KEYSLOT and the slot map). */
  masterOf(key: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'test-redis-cluster-'));
  const servers: Server[] = [];
  try {
    for (let index = 0; index < masters; index++) {
      // The bus port is chosen too: port + 10000 could land in the ephemeral range.
      const [port, busPort] = [await freePort(), await freePort()];
      servers.push(
        await startServer(
          dir,
          [
            ...base(port, dir),
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(busPort),
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
          port,
        ),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...servers.map(({ port }) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    for (const { port } of servers) {
      await until(`cluster node ${port} reports cluster_state:ok`, async () => String(await command(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'));
    }
  } catch (error) {
    await Promise.all(servers.map(stopServer));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const nodes = servers.map(({ port }) => ({ host: '127.0.0.1', port }));
  const first = servers[0]!.port;
  return {
    nodes,
    env: nodes.map(({ host, port }) => `${host}:${port}`).join(','),
    async masterOf(key) {
      const slot = Number(await command(first, 'CLUSTER', 'KEYSLOT', key));
      const ranges = (await command(first, 'CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
      return range[2][1];
    },
    async stop() {
      await Promise.all(servers.map(stopServer));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestRedisSentinel {
  /** The name the Sentinel monitors the primary under (`REDIS_SENTINEL_NAME`). */
  name: string;
  /** `REDIS_SENTINELS` for the servers under test. */
  env: string;
  /** The port of the server the Sentinel reports as primary now. */
  primaryPort(): Promise<number>;
  /** Returns once every replica has acknowledged every write the primary has taken (WAIT). */
  replicasCaughtUp(): Promise<void>;
  /** Kills the primary (SIGKILL: a crash) and returns once the Sentinel has promoted the replica. */
  failOver(): Promise<{ from: number; to: number }>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(): Promise<TestRedisSentinel> {
  const dir = await mkdtemp(join(tmpdir(), 'test-redis-sentinel-'));
  const name = 'mcp-primary';
  const servers: Server[] = [];
  try {
    const [primaryPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
    servers.push(await startServer(dir, base(primaryPort, dir), primaryPort));
    servers.push(await startServer(dir, [...base(replicaPort, dir), '--replicaof', '127.0.0.1', String(primaryPort)], replicaPort));
    await until('the replica is in sync with the primary', async () =>
      String(await command(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
    );
    // One Sentinel, quorum 1: enough to fail over here; production runs three.
    const config = join(dir, 'sentinel.conf');
    await writeFile(
      config,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    servers.push(await startServer(dir, [config, '--sentinel'], sentinelPort));
    await until(
      'the Sentinel knows the replica',
      async () => ((await command(sentinelPort, 'SENTINEL', 'REPLICAS', name)) as unknown[] | undefined)?.length === 1,
    );
  } catch (error) {
    await Promise.all(servers.map(stopServer));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const sentinelPort = servers[2]!.port;
  const primaryPort = async () => Number(((await command(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string])[1]);
  return {
    name,
    env: `127.0.0.1:${sentinelPort}`,
    primaryPort,
    async replicasCaughtUp() {
      const acknowledged = Number(await command(await primaryPort(), 'WAIT', 1, 10_000));
      if (acknowledged !== 1) throw new Error('the replica did not acknowledge the primary’s writes');
    },
    async failOver() {
      const from = await primaryPort();
      await stopServer(servers.find((server) => server.port === from)!);
      let to = from;
      await until('the Sentinel promotes the replica', async () => {
        to = await primaryPort();
        return to !== from && String(await command(to, 'INFO', 'replication')).includes('role:master');
      });
      return { from, to };
    },
    async stop() {
      await Promise.all(servers.map(stopServer));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
