/**
 * The authorization side of the benchmark, in its own process (as it would be on its own
 * host): dev-idp + auth-server (+ the stack's idle resource server, whose URL is the token
 * audience) and a second resource whose access tokens are opaque (the introspection
 * variant's audience), with the resource server registered as an introspection client.
 * Prints one JSON line with what the orchestrator needs, then runs until stdin closes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../test-support/stack.ts';

const secret = randomBytes(24).toString('base64url');
const dir = await mkdtemp(join(tmpdir(), 'bench-clients-'));
const clientsFile = join(dir, 'clients.yaml');
await writeFile(
  clientsFile,
  ['clients:', '  - client_id: resource-server', '    client_secret_env: BENCH_RS_SECRET', '    grant_types: [client_credentials]', '    introspection: true'].join('\n'),
);
const stack = await startStack({
  authServerEnv: { CLIENTS_FILE: clientsFile, BENCH_RS_SECRET: secret, ACCESS_TOKEN_TTL: '3600' },
  extraResourcePaths: ['/mcp-introspected'],
  extraResourceFormat: 'opaque',
});

process.stdout.write(
  `${JSON.stringify({
    authServerIssuer: stack.authServerIssuer,
    mcpUrl: stack.mcpUrl,
    introspectedMcpUrl: stack.extraResources[0],
    introspectionClient: { id: 'resource-server', secret },
  })}\n`,
);

process.stdin.resume();
process.stdin.on('end', async () => {
  await stack.close();
  process.exit(0);
});
