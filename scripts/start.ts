/**
 * `pnpm start`: dev-idp, auth-server and resource-server with the default configuration,
 * as three child processes, started in that order. Prints the URLs and demo users once all three answer;
 * Ctrl-C stops all three. Logs are shown one line each, prefixed with the service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const root = resolve(import.meta.dirname, '..');

// The auth server's secret at the IdP: both read it from the environment; a fresh one per run
// unless the developer pinned one, so no secret is ever written in the repository.
const idpClientSecret = process.env.IDP_CLIENT_SECRET ?? randomBytes(24).toString('base64url');
// Likewise the resource server's secret at the auth server (token exchange, auth-server/clients.yaml).
const resourceServerClientSecret = process.env.RESOURCE_SERVER_CLIENT_SECRET ?? randomBytes(24).toString('base64url');
const tokenExchangeEnv = {
  RESOURCE_SERVER_CLIENT_SECRET: resourceServerClientSecret,
  CLIENTS_FILE: process.env.CLIENTS_FILE ?? resolve(root, 'auth-server', 'clients.yaml'),
  TOKEN_EXCHANGE_CLIENT_ID: process.env.TOKEN_EXCHANGE_CLIENT_ID ?? 'mcp-resource-server',
  TOKEN_EXCHANGE_CLIENT_SECRET: resourceServerClientSecret,
};
// Enterprise-managed authorization (ID-JAG) with dev-idp as the enterprise IdP: the CLI's
// confidential client at the auth server (auth-server/clients.yaml) redeems the ID-JAGs dev-idp
// issues (auth-server/enterprise-idps.yaml). Its secret is generated per run unless pinned, and
// printed below: the CLI needs it. Left out when CLIENTS_FILE is the developer's own.
const enterpriseClientSecret = process.env.ENTERPRISE_CLIENT_SECRET ?? randomBytes(24).toString('base64url');
const enterpriseEnv: Record<string, string> =
  process.env.CLIENTS_FILE && !process.env.ENTERPRISE_IDPS_FILE
    ? {}
    : {
        ENTERPRISE_CLIENT_SECRET: enterpriseClientSecret,
        ENTERPRISE_IDPS_FILE: process.env.ENTERPRISE_IDPS_FILE ?? resolve(root, 'auth-server', 'enterprise-idps.yaml'),
      };

const services = [
  { name: 'dev-idp', color: 35, health: 'http://127.0.0.1:5556/dex/.well-known/openid-configuration' },
  { name: 'auth-server', color: 36, health: 'http://127.0.0.1:4000/healthz' },
  { name: 'resource-server', color: 32, health: 'http://127.0.0.1:3000/healthz' },
] as const;

const children: ChildProcess[] = [];
let stopping = false;

function show(service: (typeof services)[number], line: string) {
  let text = line;
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; [key: string]: unknown };
    const level = entry.level && entry.level >= 50 ? 'ERROR ' : entry.level && entry.level >= 40 ? 'WARN  ' : '';
    const { level: _l, time: _t, pid: _p, hostname: _h, name: _n, msg, ...rest } = entry;
    const details = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    text = `${level}${msg ?? ''}${details}`;
  } catch {
    // not JSON: print as is
  }
  process.stdout.write(`\x1b[${service.color}m${service.name.padEnd(15)}\x1b[0m ${text}\n`);
}

function stop(exitCode = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(exitCode), 2000).unref();
  void Promise.all(children.map((child) => new Promise((done) => (child.exitCode !== null ? done(null) : child.once('exit', done))))).then(() =>
    process.exit(exitCode),
  );
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

function launch(service: (typeof services)[number]) {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: resolve(root, service.name),
    env: { ...process.env, IDP_CLIENT_SECRET: idpClientSecret, ...tokenExchangeEnv, ...enterpriseEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => show(service, line));
  }
  child.on('exit', (code, signal) => {
    if (stopping) return;
    show(service, `exited (${signal ?? code}); stopping the others`);
    stop(1);
  });
}

/** Where the two servers keep their state, as their STORE/REDIS_URL/SQLITE_PATH defaults decide. */
function stateLine(env = process.env): string {
  const store = env.STORE || (env.REDIS_URL ? 'redis' : 'sqlite');
  if (store === 'memory') return 'State lives in the processes (STORE=memory): Ctrl-C loses it.';
  if (store === 'redis') return 'State is kept in Redis (REDIS_URL): it survives Ctrl-C.';
  if (env.SQLITE_PATH) return `State is kept in the SQLite file ${env.SQLITE_PATH}: it survives Ctrl-C.`;
  return 'State is kept in SQLite files under auth-server/.data/ and resource-server/.data/: it survives Ctrl-C.';
}

/** How to sign in the enterprise way, when pnpm start set it up. */
function enterpriseLine(): string {
  if (!enterpriseEnv.ENTERPRISE_IDPS_FILE) return '';
  const secret = process.env.ENTERPRISE_CLIENT_SECRET ? 'the secret in ENTERPRISE_CLIENT_SECRET' : `secret ${enterpriseClientSecret} (generated for this run)`;
  return `  Enterprise sign-in (ID-JAG, dev-idp as the enterprise IdP): dev-idp client mcp-client-enterprise,
  then auth server client mcp-enterprise-client, ${secret}.
`;
}

async function waitFor(url: string) {
  for (let attempt = 0; attempt < 100 && !stopping; attempt++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

try {
  // In dependency order, each once the previous answers: the resource server's first JWKS
  // fetch then finds the auth server up, and the auth server finds its IdP.
  for (const service of services) {
    launch(service);
    await waitFor(service.health);
  }
  process.stdout.write(`
  MCP server (resource)   http://localhost:3000/mcp
  Authorization server    http://localhost:4000
  Upstream IdP (dev-idp)  http://localhost:5556/dex   (development only)

  Sign in as alice@example.com or bob@example.com, password "password".
  ${stateLine()}
${enterpriseLine()}
  Try it:   pnpm client login http://localhost:3000/mcp
            pnpm client call http://localhost:3000/mcp whoami
  Ctrl-C stops all three.

`);
} catch (error) {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a child's exit handler may have set it meanwhile
  if (!stopping) {
    process.stderr.write(`start-up failed: ${(error as Error).message}\n`);
    stop(1);
  }
}
