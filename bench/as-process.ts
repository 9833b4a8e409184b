/**
 * The authorization side of the benchmark, in its own process (as it would be on its own
 * host): dev-idp + auth-server (+ the stack's idle resource server, whose URL is the token
 * audience) and a second resource whose access tokens are opaque (the introspection
 * variant's audience), with the resource server registered as an introspection client and
 * a machine client for the client_credentials grant (CLIENTS_FILE: only pre-registered
 * confidential clients may use it).
 * BENCH_STORE picks the auth server's store: redis (default), sqlite or memory.
 * Prints one JSON line with what the orchestrator needs, then runs until stdin closes.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../test-support/stack.ts';

const store = (process.env.BENCH_STORE ?? 'redis') as 'redis' | 'sqlite' | 'memory';
const secret = randomBytes(24).toString('base64url');
const machineSecret = randomBytes(24).toString('base64url');
const dir = await mkdtemp(join(tmpdir(), 'bench-clients-'));
const clientsFile = join(dir, 'clients.yaml');
await writeFile(
  clientsFile,
  [
    'clients:',
    '  - client_id: resource-server',
    '    client_secret_env: BENCH_RS_SECRET',
    '    grant_types: [client_credentials]',
    '    introspection: true',
    '  - client_id: bench-machine',
    '    client_secret_env: BENCH_MACHINE_SECRET',
    '    grant_types: [client_credentials]',
  ].join('\n'),
);
const stack = await startStack({
  authServerStorage: store,
  authServerEnv: {
    CLIENTS_FILE: clientsFile,
    BENCH_RS_SECRET: secret,
    BENCH_MACHINE_SECRET: machineSecret,
    ACCESS_TOKEN_TTL: '3600',
    // The benchmark is the only client: the per-IP limits would measure themselves.
    RATE_LIMIT_TOKEN: '100000000',
    RATE_LIMIT_REGISTRATION: '1000',
  },
  extraResourcePaths: ['/mcp-introspected'],
  extraResourceFormat: 'opaque',
});

process.stdout.write(
  `${JSON.stringify({
    store,
    authServerIssuer: stack.authServerIssuer,
    mcpUrl: stack.mcpUrl,
    introspectedMcpUrl: stack.extraResources[0],
    introspectionClient: { id: 'resource-server', secret },
    machineClient: { id: 'bench-machine', secret: machineSecret },
  })}\n`,
);

process.stdin.resume();
await once(process.stdin, 'end');
await stack.close();
await rm(dir, { recursive: true, force: true });
process.exit(0);
