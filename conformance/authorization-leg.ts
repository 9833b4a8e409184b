/**
 * The authorization-server leg of `pnpm test:conformance`: the suite's
 * `authorization` scenarios (authorization-server-metadata-endpoint,
 * authorization-code-grant) against our auth server, with the login done by a person's
 * browser — Debian's chromium, driven by playwright-core, never a downloaded browser.
 *
 * The stack is started in this process (test-support/stack.ts: dev-idp, auth-server,
 * resource-server on free loopback ports). The suite acts as an OAuth client: it needs a
 * client_id whose redirect URI is its own callback server, http://127.0.0.1:<port>/callback,
 * so one is registered by DCR first, the way any MCP client would.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test-support/chromium.ts';
import { DEMO_USERS, freePort, startStack } from '../test-support/stack.ts';
import type { Outcome } from './run.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUITE = join(ROOT, 'node_modules', '.bin', 'conformance');

interface Check {
  id: string;
  status: string;
  description?: string;
  errorMessage?: string;
}

/** Registers the suite's client by DCR (RFC 7591), as a native public client. */
async function registerSuiteClient(issuer: string, port: number): Promise<{ clientId: string }> {
  const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { registration_endpoint?: string };
  if (!metadata.registration_endpoint) throw new Error(`${issuer} advertises no registration_endpoint`);
  const response = await fetch(metadata.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'MCP conformance suite',
      application_type: 'native',
      redirect_uris: [`http://127.0.0.1:${port}/callback`],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  const body = (await response.json()) as { client_id?: string; error?: string; error_description?: string };
  if (response.status !== 201 || !body.client_id)
    throw new Error(`registration refused: HTTP ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
  return { clientId: body.client_id };
}

/**
 * What a person does in the browser: sign in at the IdP (alice), press Allow on the
 * consent page, until the browser lands on the suite's callback. Returns the pages seen.
 */
export async function completeLoginInBrowser(page: Page, url: string, callbackPrefix: string, user = DEMO_USERS.alice): Promise<string[]> {
  const seen: string[] = [];
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  for (let step = 0; step < 8; step++) {
    const current = page.url();
    if (current.startsWith(callbackPrefix)) {
      seen.push('callback');
      return seen;
    }
    const login = page.locator('input[name="login"]');
    const allow = page.getByRole('button', { name: 'Allow' });
    await Promise.race([
      login.waitFor({ state: 'visible', timeout: 15_000 }),
      allow.waitFor({ state: 'visible', timeout: 15_000 }),
      page.waitForURL((u) => u.href.startsWith(callbackPrefix), { timeout: 15_000 }),
    ]).catch(() => {});
    if (page.url().startsWith(callbackPrefix)) continue;
    if (await login.isVisible()) {
      seen.push('login');
      await login.fill(user.login);
      await page.locator('input[name="password"]').fill(user.password);
      await leaving(page, () => page.locator('input[name="password"]').press('Enter'));
    } else if (await allow.isVisible()) {
      seen.push('consent');
      await leaving(page, () => allow.click());
    } else {
      const text = (
        await page
          .locator('body')
          .innerText()
          .catch(() => '')
      ).slice(0, 300);
      throw new Error(`browser stuck at ${new URL(current).origin}${new URL(current).pathname}: ${text}`);
    }
  }
  throw new Error(`browser did not reach ${callbackPrefix} after 8 steps (${seen.join(' → ')})`);
}

/** Does `action` and waits until the page has left the URL it was at (waitForNavigation is deprecated as racy). */
async function leaving(page: Page, action: () => Promise<void>) {
  const from = page.url();
  await Promise.all([page.waitForURL((url) => url.href !== from, { waitUntil: 'domcontentloaded', timeout: 15_000 }), action()]);
}

async function readChecks(resultsDir: string): Promise<Map<string, Check[]>> {
  const byScenario = new Map<string, Check[]>();
  for (const name of await readdir(resultsDir)) {
    const match = /^authorization-server-(.+)-\d{4}-\d{2}-\d{2}T/.exec(name);
    if (!match) continue;
    const checks = JSON.parse(await readFile(join(resultsDir, name, 'checks.json'), 'utf8')) as Check[];
    byScenario.set(match[1]!, checks);
  }
  return byScenario;
}

export async function authorizationLeg(options: { resultsDir: string }): Promise<Outcome[]> {
  const stack = await startStack();
  const userDataDir = await mkdtemp(join(tmpdir(), 'conformance-chromium-'));
  const outDir = join(options.resultsDir, 'authorization');
  let context: BrowserContext | undefined;
  try {
    const port = await freePort();
    const { clientId } = await registerSuiteClient(stack.authServerIssuer, port);
    console.log(
      `authorization leg: auth server ${stack.authServerIssuer}, resource ${stack.mcpUrl}, client registered by DCR for http://127.0.0.1:${port}/callback; login in ${CHROMIUM}`,
    );
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const page = context.pages()[0] ?? (await context.newPage());

    const args = ['authorization', '--url', stack.authServerIssuer, '--client-id', clientId, '--resource', stack.mcpUrl, '--port', String(port), '-o', outDir];
    const child = spawn(SUITE, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let browsing: Promise<string[]> | undefined;
    let pending = '';
    const authorizePrefix = `${stack.authServerIssuer}/`;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const trimmed = line.trim();
        if (!browsing && trimmed.startsWith(authorizePrefix) && trimmed.includes('code_challenge=')) {
          browsing = completeLoginInBrowser(page, trimmed, `http://127.0.0.1:${port}/callback`);
          browsing.catch(() => {});
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c ?? 1);
      });
    });
    let browserNote: string | undefined;
    if (browsing) {
      try {
        browserNote = `browser: ${(await browsing).join(' → ')}`;
      } catch (error) {
        browserNote = `browser failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    } else {
      browserNote = 'the suite never printed an authorization URL';
    }
    const byScenario = await readChecks(outDir).catch(() => new Map<string, Check[]>());
    const outcomes: Outcome[] = [];
    for (const [scenario, checks] of byScenario) {
      const outcome: Outcome = {
        label: `authorization: ${scenario}`,
        passed: checks.filter((c) => c.status === 'SUCCESS').length,
        failed: checks.filter((c) => c.status === 'FAILURE' || c.status === 'SKIPPED').length,
        warnings: checks.filter((c) => c.status === 'WARNING').length,
        exitCode: checks.some((c) => c.status === 'FAILURE' || c.status === 'SKIPPED') ? 1 : 0,
        baselined: false,
      };
      const problems = checks.filter((c) => c.status !== 'SUCCESS').map((c) => `${c.id} ${c.status}: ${c.errorMessage ?? c.description ?? ''}`);
      if (scenario === 'authorization-code-grant') problems.push(browserNote);
      if (problems.length) outcome.note = problems.join('; ');
      outcomes.push(outcome);
    }
    if (outcomes.length === 0 || code !== 0) {
      console.log(indent(output.trim().split('\n').slice(-30).join('\n')));
      if (outcomes.length === 0)
        outcomes.push({ label: 'authorization: (suite)', passed: 0, failed: 1, warnings: 0, exitCode: code || 1, baselined: false, note: browserNote });
    }
    return outcomes;
  } finally {
    await context?.close().catch(() => {});
    await stack.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}
