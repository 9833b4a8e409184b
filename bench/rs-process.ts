/**
 * One resource-server variant for the benchmark, in its own process: the real app
 * (config from the environment), with the verifier BENCH_VARIANT picks:
 *   none          — a pass-through verifier: the same app, no token verification at all;
 *   jwt           — this server's default, local JWT/JWKS verification;
 *   introspection — RFC 7662 introspection at the AS on every request.
 * Prints "ready <url>" once listening.
 */
import { authInfoFor, type Caller, type TokenVerifier } from '../resource-server/src/auth/verifier.ts';
import { loadConfig } from '../resource-server/src/config.ts';
import { createLogger } from '../resource-server/src/log.ts';
import { startResourceServer } from '../resource-server/src/server.ts';

const variant = process.env.BENCH_VARIANT;
const config = loadConfig({ ...process.env, TOKEN_VERIFIER: variant === 'introspection' ? 'introspection' : 'jwt' });
const logger = createLogger(config.logLevel);

/** "No auth": every request is the same caller, whatever it sends. */
function passThrough(): TokenVerifier {
  const caller: Caller = {
    subject: 'bench-user',
    email: 'bench@example.com',
    name: 'bench',
    clientId: 'bench',
    scopes: ['mcp:tools', 'mcp:resources', 'mcp:prompts'],
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    grantId: 'bench-grant',
  };
  return {
    verify: async (token: string) => authInfoFor(token, caller, config.resourceUrl),
    readiness: async () => ({ ok: true, detail: 'no verification (benchmark baseline)' }),
  };
}

const running = await startResourceServer(config, logger, variant === 'none' ? { verifier: passThrough() } : {});
process.stdout.write(
  `ready http://${config.host}:${running.app.server.address() && (running.app.server.address() as { port: number }).port}${config.mcpPath}\n`,
);
process.once('SIGTERM', () => void running.close().finally(() => process.exit(0)));
