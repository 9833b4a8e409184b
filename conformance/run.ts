#!/usr/bin/env node
/**
 * `pnpm test:conformance`: the official MCP conformance suite
 * (@modelcontextprotocol/conformance) against this repository, in two legs.
 *
 * 1. client — every `auth/*` client scenario, at every spec version the suite lists for
 *    it (extensions once), against the mcp-client CLI through conformance/client-adapter.ts.
 *    Scenarios that do not apply to a user-facing CLI are in conformance/baseline.yaml,
 *    each with its reason; the suite itself enforces the baseline both ways (an
 *    unexpected failure or a baselined scenario that passes fails the run).
 * 2. authorization — the suite's authorization-server scenarios against our auth server:
 *    the whole stack (dev-idp, auth-server, resource-server) started in this process on
 *    free loopback ports, a client registered by DCR for the suite's callback, and the
 *    login completed in a real browser (Debian's chromium, driven by playwright-core):
 *    alice signs in at the IdP and presses Allow on the consent page.
 *
 * Options: --leg client|authorization (default both), --scenario <name> (client leg),
 * --concurrency <n> (client leg, default 6), --keep (keep the results directory).
 * Exit status 0 only when both legs pass.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { authorizationLeg } from './authorization-leg.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUITE = join(ROOT, 'node_modules', '.bin', 'conformance');
const ADAPTER = fileURLToPath(new URL('./client-adapter.ts', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline.yaml', import.meta.url));
const DATED = /^\d{4}-\d{2}-\d{2}$/;

export interface Outcome {
  label: string;
  passed: number;
  failed: number;
  warnings: number;
  exitCode: number;
  baselined: boolean;
  note?: string;
}

/** Runs the suite's CLI; resolves with its exit code and combined output. */
export function runSuite(args: string[], options: { timeoutMs?: number; onLine?: (line: string) => void } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(SUITE, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let pending = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      if (!options.onLine) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

/** The `Passed: a/b, f failed, w warnings` line of a single-scenario run. */
export function counts(output: string): { passed: number; failed: number; warnings: number } | undefined {
  // eslint-disable-next-line no-control-regex -- strips the suite's ANSI colour codes, which start with ESC
  const match = /Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''));
  if (!match) return undefined;
  return { passed: Number(match[1]), failed: Number(match[3]), warnings: Number(match[4]) };
}

interface Scenario {
  name: string;
  versions: string[];
  extension: boolean;
}

async function clientScenarios(only: string | undefined): Promise<Scenario[]> {
  const { output } = await runSuite(['list', '--client']);
  const scenarios: Scenario[] = [];
  for (const line of output.split('\n')) {
    const match = /^\s+- (auth\/\S+) \[([^\]]*)\]/.exec(line);
    if (!match) continue;
    const tags = (match[2] ?? '').split(',').map((t) => t.trim());
    scenarios.push({ name: match[1]!, versions: tags.filter((t) => DATED.test(t)), extension: tags.includes('extension') });
  }
  if (scenarios.length === 0) throw new Error(`the suite listed no auth/* client scenarios:\n${output}`);
  return only ? scenarios.filter((s) => s.name === only) : scenarios;
}

async function inBatches<T, R>(items: T[], concurrency: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await run(items[index]!);
      }
    }),
  );
  return results;
}

async function clientLeg(options: { only?: string | undefined; concurrency: number; resultsDir: string; baseline: Baseline }): Promise<Outcome[]> {
  const scenarios = await clientScenarios(options.only);
  type Run = { s: Scenario; version: string | undefined };
  const runs = scenarios.flatMap((s): Run[] =>
    s.extension || s.versions.length === 0 ? [{ s, version: undefined }] : s.versions.map((version) => ({ s, version })),
  );
  console.log(
    `client leg: ${scenarios.length} auth scenarios, ${runs.length} runs (each at every spec version it applies to), concurrency ${options.concurrency}`,
  );
  return inBatches(runs, options.concurrency, async ({ s, version }) => {
    const label = `${s.name}${version ? ` @${version}` : ' (extension)'}`;
    const args = [
      'client',
      '--command',
      `node ${ADAPTER}`,
      '--scenario',
      s.name,
      '--expected-failures',
      BASELINE,
      '--timeout',
      '60000',
      '-o',
      options.resultsDir,
    ];
    if (version) args.push('--spec-version', version);
    const { code, output } = await runSuite(args);
    const c = counts(output) ?? { passed: 0, failed: 0, warnings: 0 };
    const baselined = options.baseline.client.includes(s.name);
    const outcome: Outcome = { label, ...c, exitCode: code, baselined };
    if (code !== 0) outcome.note = /Stale baseline/.test(output) ? 'stale baseline entry: it passes now' : 'unexpected failure';
    printOutcome(outcome);
    if (code !== 0)
      console.log(
        indent(
          output
            .split('\n')
            .filter((l) => /FAILURE|Error:|error|✗|Stale/.test(l))
            .slice(0, 20)
            .join('\n'),
        ),
      );
    return outcome;
  });
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}

export function printOutcome(o: Outcome): void {
  const mark = o.exitCode !== 0 ? '✗' : o.baselined ? '~' : '✓';
  const tail = o.baselined && o.exitCode === 0 ? `  (baselined: expected failure)` : o.note ? `  (${o.note})` : '';
  console.log(`${mark} ${o.label.padEnd(52)} ${String(o.passed).padStart(3)} passed, ${o.failed} failed, ${o.warnings} warnings${tail}`);
}

interface Baseline {
  client: string[];
  reasons: Record<string, string>;
}

async function readBaseline(): Promise<Baseline> {
  const doc = (parseYaml(await readFile(BASELINE, 'utf8')) ?? {}) as { client?: string[]; reasons?: Record<string, string> };
  const client = doc.client ?? [];
  const reasons = doc.reasons ?? {};
  for (const name of client) if (!reasons[name]) throw new Error(`baseline.yaml: ${name} has no reason`);
  return { client, reasons };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      leg: { type: 'string' },
      scenario: { type: 'string' },
      concurrency: { type: 'string', default: '6' },
      keep: { type: 'boolean', default: false },
    },
  });
  const legs = values.leg ? [values.leg] : ['client', 'authorization'];
  const baseline = await readBaseline();
  const resultsDir = await mkdtemp(join(tmpdir(), 'conformance-results-'));
  let ok = true;
  try {
    if (legs.includes('client')) {
      const outcomes = await clientLeg({ only: values.scenario, concurrency: Math.max(1, Number(values.concurrency) || 6), resultsDir, baseline });
      const applicable = outcomes.filter((o) => !o.baselined);
      const passing = applicable.filter((o) => o.exitCode === 0 && o.failed === 0 && o.warnings === 0);
      const checks = applicable.reduce((sum, o) => sum + o.passed, 0);
      const baselinedRuns = outcomes.filter((o) => o.baselined);
      console.log(
        `\nclient leg: ${passing.length}/${applicable.length} applicable scenario runs pass (${checks} checks passed, ${applicable.reduce((s, o) => s + o.failed, 0)} failed, ${applicable.reduce((s, o) => s + o.warnings, 0)} warnings); ${baselinedRuns.length} baselined runs`,
      );
      for (const name of baseline.client) console.log(`  ~ ${name}: ${baseline.reasons[name]}`);
      if (outcomes.some((o) => o.exitCode !== 0) || passing.length !== applicable.length) ok = false;
    }
    if (legs.includes('authorization')) {
      const outcomes = await authorizationLeg({ resultsDir });
      for (const o of outcomes) printOutcome(o);
      const failed = outcomes.filter((o) => o.exitCode !== 0 || o.failed > 0);
      console.log(
        `\nauthorization leg: ${outcomes.length - failed.length}/${outcomes.length} authorization-server scenarios pass (${outcomes.reduce((s, o) => s + o.passed, 0)} checks passed, ${outcomes.reduce((s, o) => s + o.failed, 0)} failed, ${outcomes.reduce((s, o) => s + o.warnings, 0)} warnings)`,
      );
      if (failed.length) ok = false;
    }
  } finally {
    if (values.keep) console.log(`results: ${resultsDir}`);
    else await rm(resultsDir, { recursive: true, force: true });
  }
  console.log(ok ? '\nconformance: PASSED' : '\nconformance: FAILED');
  return ok ? 0 : 1;
}

if (import.meta.main) {
  const code = await main();
  process.exit(code);
}
