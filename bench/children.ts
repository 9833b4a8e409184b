/** Child processes of the benchmark: started with a marker line to wait for, stopped by their own handle. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const root = new URL('..', import.meta.url).pathname;

/** Starts `script`; `firstLine` is its first stdout line that starts with `marker` (logs may come before). */
export function child(script: string, env: Record<string, string>, marker = ''): { process: ChildProcess; firstLine: Promise<string> } {
  const proc = spawn(process.execPath, [script], { cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk) => (stderr += String(chunk)));
  const lines = createInterface({ input: proc.stdout });
  const firstLine = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      if (!line.startsWith(marker)) return;
      lines.off('line', onLine);
      resolve(line);
    };
    lines.on('line', onLine);
    proc.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready:\n${stderr.slice(-2000)}`)));
  });
  return { process: proc, firstLine };
}

export async function stop(proc: ChildProcess) {
  if (proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await Promise.race([once(proc, 'exit'), new Promise((resolve) => setTimeout(resolve, 3000))]);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the process may have exited meanwhile; TypeScript keeps the narrowing across the await
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

/** Stops an as-process.ts child: it closes its stack when stdin ends. */
export async function stopAuthSide(proc: ChildProcess) {
  proc.stdin!.end();
  await Promise.race([once(proc, 'exit'), new Promise((resolve) => setTimeout(resolve, 5000))]);
  await stop(proc);
}
