import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Bounded polling for something another process does in its own time (a server starting,
 * a failover, a readiness flip): polls `check` every 100 ms until it holds; fails after
 * `timeoutMs`. A probe that throws counts as "not yet".
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}
