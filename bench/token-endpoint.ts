/**
 * What the store costs the auth server: its token endpoint on the in-process store, a
 * SQLite file and Redis, measured in one run.
 *   refresh_token      — a public (DCR) client refreshing, so every request rotates: the old
 *                        refresh token is consumed and a new one stored;
 *   client_credentials — the machine client pre-registered through CLIENTS_FILE.
 * Each store runs in an auth-side process of its own (bench/as-process.ts, BENCH_STORE).
 * The load is a closed loop of `connections` workers over keep-alive fetch, each waiting
 * for its answer before the next request: a refresh worker holds one refresh-token chain
 * (from a real login) and sends the token the previous answer returned. Stores and grants
 * run interleaved, round after round, like the resource-server variants; a figure is the
 * median of its rounds.
 */
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { obtainAccessToken } from '../test-support/oauth-flow.ts';
import { DEMO_USERS } from '../test-support/stack.ts';
import { child, stopAuthSide } from './children.ts';
import { fmt, median, percentile } from './figures.ts';

export const STORES = ['memory', 'sqlite', 'redis'] as const;
export const GRANTS = ['refresh_token', 'client_credentials'] as const;
type Store = (typeof STORES)[number];
type Grant = (typeof GRANTS)[number];

export interface TokenBenchOptions {
  duration: number;
  rounds: number;
  connections: number;
  warmup: number;
}

export interface TokenRow {
  grant: Grant;
  store: Store;
  requestsPerSecond: number;
  /** requestsPerSecond / the same grant's on memory. */
  ratio: number;
  p50: number;
  p99: number;
  total: number;
  failed: number;
}

interface Side {
  store: Store;
  authServerIssuer: string;
  mcpUrl: string;
  machineClient: { id: string; secret: string };
  proc: ChildProcess;
}

interface Chain {
  clientId: string;
  refreshToken: string;
}

interface Measurement {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  total: number;
  failed: number;
}

async function startSide(store: Store): Promise<Side> {
  const as = child('bench/as-process.ts', { BENCH_STORE: store }, '{');
  const side = { ...(JSON.parse(await as.firstLine) as Omit<Side, 'proc'>), proc: as.process };
  // Make sure the figures are labelled with the store the server really uses.
  const ready = (await (await fetch(`${side.authServerIssuer}/readyz`)).json()) as { storage?: { kind?: string } };
  if (ready.storage?.kind !== store) throw new Error(`the ${store} auth server reports storage ${JSON.stringify(ready.storage)}`);
  return side;
}

/** One refresh-token chain per worker, each from a real login (DCR public client, rotating). */
async function chainsFor(side: Side, count: number): Promise<Chain[]> {
  const chains: Chain[] = [];
  for (let i = 0; i < count; i++) {
    const { clientId, tokens } = await obtainAccessToken({ issuer: side.authServerIssuer, resource: side.mcpUrl, user: DEMO_USERS.alice });
    if (!tokens.refresh_token) throw new Error('the login gave no refresh token');
    chains.push({ clientId, refreshToken: tokens.refresh_token });
  }
  return chains;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function refreshWorker(side: Side, chain: Chain) {
  return async () => {
    const response = await fetch(`${side.authServerIssuer}/token`, {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chain.refreshToken, client_id: chain.clientId, resource: side.mcpUrl }),
    });
    const body = (await response.json()) as { refresh_token?: string };
    if (response.status !== 200 || !body.refresh_token) return false;
    chain.refreshToken = body.refresh_token;
    return true;
  };
}

function clientCredentialsWorker(side: Side) {
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(side.machineClient.id)}:${encodeURIComponent(side.machineClient.secret)}`).toString('base64')}`;
  const body = new URLSearchParams({ grant_type: 'client_credentials', resource: side.mcpUrl, scope: 'mcp:tools' }).toString();
  return async () => {
    const response = await fetch(`${side.authServerIssuer}/token`, { method: 'POST', headers: { ...FORM, authorization }, body });
    await response.arrayBuffer();
    return response.status === 200;
  };
}

/** Every worker sends, waits for the answer, sends again, until `seconds` are up; a failed worker stops. */
async function closedLoop(workers: Array<() => Promise<boolean>>, seconds: number): Promise<Measurement> {
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    workers.map(async (send) => {
      while (performance.now() < deadline) {
        const sent = performance.now();
        const ok = await send();
        latencies.push(performance.now() - sent);
        if (!ok) {
          failed++;
          return; // a broken refresh chain cannot go on
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((x, y) => x - y);
  return { requestsPerSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), total: latencies.length, failed };
}

export async function benchTokenEndpoint(options: TokenBenchOptions): Promise<TokenRow[]> {
  const sides: Side[] = [];
  try {
    for (const store of STORES) {
      process.stdout.write(`starting an auth server on the ${store} store and logging in ${options.connections} times…\n`);
      sides.push(await startSide(store));
    }
    const workers = new Map<string, Array<() => Promise<boolean>>>();
    for (const side of sides) {
      const chains = await chainsFor(side, options.connections);
      workers.set(
        `refresh_token ${side.store}`,
        chains.map((chain) => refreshWorker(side, chain)),
      );
      workers.set(
        `client_credentials ${side.store}`,
        Array.from({ length: options.connections }, () => clientCredentialsWorker(side)),
      );
    }
    const cells = GRANTS.flatMap((grant) => STORES.map((store) => ({ grant, store, key: `${grant} ${store}` })));
    for (const cell of cells) await closedLoop(workers.get(cell.key)!, options.warmup);
    const rounds = new Map<string, Measurement[]>(cells.map((cell) => [cell.key, []]));
    for (let round = 1; round <= options.rounds; round++) {
      process.stdout.write(`  round ${round}/${options.rounds}: ${cells.map((cell) => cell.key).join(', ')}\n`);
      for (const cell of cells) rounds.get(cell.key)!.push(await closedLoop(workers.get(cell.key)!, options.duration));
    }
    const rows = cells.map(({ grant, store, key }) => {
      const results = rounds.get(key)!;
      return {
        grant,
        store,
        requestsPerSecond: median(results.map((r) => r.requestsPerSecond)),
        ratio: 0,
        p50: median(results.map((r) => r.p50)),
        p99: median(results.map((r) => r.p99)),
        total: results.reduce((sum, r) => sum + r.total, 0),
        failed: results.reduce((sum, r) => sum + r.failed, 0),
      };
    });
    for (const row of rows) row.ratio = row.requestsPerSecond / rows.find((other) => other.grant === row.grant && other.store === 'memory')!.requestsPerSecond;
    return rows;
  } finally {
    await Promise.all(sides.map((side) => stopAuthSide(side.proc)));
  }
}

export function tokenTable(rows: TokenRow[]): string {
  const lines = [
    '| grant | store | req/s | vs. memory | p50 latency (ms) | p99 latency (ms) | requests | failed |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| \`${row.grant}\` | ${row.store} | ${fmt(row.requestsPerSecond)} | ${row.ratio.toFixed(2)} | ${fmt(row.p50, 1)} | ${fmt(row.p99, 1)} | ${fmt(row.total)} | ${row.failed} |`,
    );
  }
  return lines.join('\n');
}
