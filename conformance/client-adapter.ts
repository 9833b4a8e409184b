#!/usr/bin/env node
/**
 * The conformance suite's calling convention → mcp-client CLI arguments.
 *
 * The suite runs `<command> <server-url>` with MCP_CONFORMANCE_SCENARIO set to the
 * scenario name and, for some scenarios, MCP_CONFORMANCE_CONTEXT set to a JSON object
 * (pre-registered client credentials and the like). This script runs the real CLI
 * (`node mcp-client/src/cli.ts … --no-browser --json`) in a fresh config directory and
 * plays the user's browser: when the CLI prints the authorization URL, it opens it,
 * follows the authorization server's redirects to the CLI's loopback callback and
 * delivers the authorization response there — exactly what a browser does when the
 * authorization server needs no login (the suite's does not).
 *
 * What the user would type is decided per scenario, in `plan()` below; everything else
 * (discovery, registration, PKCE, iss checks, step-up, refresh) is the CLI's own doing.
 * The exit status is the CLI's (the last one that ran).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../mcp-client/src/cli.ts', import.meta.url));

/**
 * The Client ID Metadata Document URL the suite's authorization servers expect
 * (auth/basic-cimd checks that this exact URL is used as client_id when
 * client_id_metadata_document_supported is true). A deployment passes its own.
 */
export const CONFORMANCE_CIMD_URL = 'https://conformance-test.local/client-metadata.json';

/** The tool every auth scenario's MCP server offers. */
const TEST_TOOL = 'test-tool';

interface Context {
  client_id?: string;
  client_secret?: string;
  [key: string]: unknown;
}

/** One CLI invocation: its arguments and extra environment. */
interface Run {
  args: string[];
  env?: Record<string, string>;
}

/** Writes a credential from the context into a 0600 file of its own in `scratch`, as an operator would hand it over. */
function secretFile(scratch: string, name: string, content: unknown): string {
  const file = join(scratch, name);
  writeFileSync(file, String(content), { mode: 0o600 });
  return file;
}

/** What a user of mcp-client would run for this scenario; `scratch` is a private directory for credential files. */
export function plan(scenario: string, serverUrl: string, context: Context, scratch: string): Run[] {
  const common = ['--no-browser', '--json', '--timeout', '20'];
  const cimd = ['--client-metadata-url', CONFORMANCE_CIMD_URL];
  const call: Run = { args: ['call', serverUrl, TEST_TOOL, ...common, ...cimd] };
  switch (scenario) {
    case 'auth/pre-registration':
      // The credentials an administrator handed out; the secret stays off the command line.
      // Bound to the AS that issued them (--issuer): never sent to any other.
      return [
        {
          args: [
            'call',
            serverUrl,
            TEST_TOOL,
            ...common,
            '--client-id',
            String(context.client_id),
            ...(typeof context.issuer === 'string' ? ['--issuer', context.issuer] : []),
          ],
          env: { MCP_CLIENT_SECRET: String(context.client_secret) },
        },
      ];
    case 'auth/client-credentials-basic':
      return [
        {
          args: ['call', serverUrl, TEST_TOOL, '--json', '--client-credentials', '--client-id', String(context.client_id)],
          env: { MCP_CLIENT_SECRET: String(context.client_secret) },
        },
      ];
    case 'auth/client-credentials-jwt':
      // A machine client registered by its public key (private_key_jwt, SEP-1046): the private key in a 0600 file.
      return [
        {
          args: [
            'call',
            serverUrl,
            TEST_TOOL,
            '--json',
            '--client-credentials',
            '--client-id',
            String(context.client_id),
            '--client-key',
            secretFile(scratch, 'client-key.pem', context['private_key_pem']),
            ...(typeof context['signing_algorithm'] === 'string' ? ['--client-key-alg', context['signing_algorithm']] : []),
          ],
        },
      ];
    case 'auth/enterprise-managed-authorization':
      // SEP-990 with the user already signed in at the enterprise IdP: its ID token in a file,
      // exchanged there for an ID-JAG, redeemed at the AS by the confidential client.
      return [
        {
          args: [
            'call',
            serverUrl,
            TEST_TOOL,
            '--json',
            '--enterprise-idp',
            String(context['idp_issuer']),
            '--idp-client-id',
            String(context['idp_client_id']),
            '--id-token-file',
            secretFile(scratch, 'id-token.jwt', context['idp_id_token']),
            '--client-id',
            String(context.client_id),
          ],
          env: { MCP_CLIENT_SECRET: String(context.client_secret) },
        },
      ];
    case 'auth/wif-jwt-bearer':
      // SEP-1933: the token the workload's platform issued it, where the platform put it.
      return [
        {
          args: [
            'call',
            serverUrl,
            TEST_TOOL,
            '--json',
            '--workload-token-file',
            secretFile(scratch, 'workload-token.jwt', context['valid_jwt']),
            '--client-id',
            String(context.client_id),
          ],
        },
      ];
    case 'auth/authorization-server-migration':
      // Two sessions against the same server: the second finds its stored token refused
      // because the resource moved to another authorization server.
      return [{ args: ['tools', serverUrl, ...common, ...cimd] }, call];
    default:
      return [call];
  }
}

/** Plays the browser: authorization URL → redirects → the CLI's loopback callback. */
async function browse(authorizationUrl: string, redirectUri: string): Promise<void> {
  let url = authorizationUrl;
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      process.stderr.write(`[adapter] browser stopped at ${new URL(url).origin}${new URL(url).pathname}: HTTP ${response.status}\n`);
      return;
    }
    url = new URL(location, url).href;
    if (url.startsWith(redirectUri)) {
      const landing = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      await landing.body?.cancel();
      process.stderr.write(`[adapter] browser delivered the authorization response to the CLI: HTTP ${landing.status}\n`);
      return;
    }
  }
  process.stderr.write('[adapter] browser gave up after 10 redirects\n');
}

function runCli(run: Run, configDir: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...run.args], {
      env: { ...process.env, ...run.env, MCP_CLIENT_CONFIG_DIR: configDir, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const browsing: Promise<void>[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      process.stdout.write(`${line}\n`);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (parsed['step'] === 'authorization_url' && typeof parsed['authorizationUrl'] === 'string' && typeof parsed['redirectUri'] === 'string') {
        browsing.push(
          browse(parsed['authorizationUrl'], parsed['redirectUri']).catch((error: unknown) => {
            process.stderr.write(`[adapter] browser failed: ${error instanceof Error ? error.message : String(error)}\n`);
          }),
        );
      }
    });
    child.on('close', (code) => {
      void Promise.all(browsing).then(() => resolve(code ?? 1));
    });
  });
}

async function main(): Promise<number> {
  const serverUrl = process.argv.at(-1);
  const scenario = process.env['MCP_CONFORMANCE_SCENARIO'] ?? '';
  if (!serverUrl || process.argv.length < 3) {
    process.stderr.write('usage: client-adapter.ts <server-url>   (MCP_CONFORMANCE_SCENARIO / MCP_CONFORMANCE_CONTEXT from the suite)\n');
    return 2;
  }
  const context = JSON.parse(process.env['MCP_CONFORMANCE_CONTEXT'] ?? '{}') as Context;
  const configDir = await mkdtemp(join(tmpdir(), 'mcp-client-conformance-'));
  const scratch = await mkdtemp(join(tmpdir(), 'mcp-client-conformance-credentials-'));
  try {
    let code = 0;
    for (const run of plan(scenario, serverUrl, context, scratch)) {
      process.stderr.write(`[adapter] ${scenario}: mcp-client ${run.args.join(' ')}\n`);
      code = await runCli(run, configDir);
      if (code !== 0) break;
    }
    return code;
  } finally {
    await rm(configDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exitCode = await main();
