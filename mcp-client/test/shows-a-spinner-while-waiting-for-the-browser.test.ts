import { afterEach, describe, expect, it, vi } from 'vitest';
import { PassThrough } from 'node:stream';
import { Trace } from '../src/trace.ts';

function stream(isTTY: boolean): PassThrough & { isTTY: boolean; text(): string } {
  const out = new PassThrough() as PassThrough & { isTTY: boolean; text(): string; columns: number };
  let text = '';
  out.on('data', (chunk) => (text += String(chunk)));
  out.isTTY = isTTY;
  out.columns = 80;
  // What a TTY write stream offers (tty.WriteStream), written as ANSI like the real one.
  Object.assign(out, {
    cursorTo: (x: number, cb?: () => void) => {
      out.write(`\x1b[${x + 1}G`);
      cb?.();
      return true;
    },
    clearLine: (_dir: number, cb?: () => void) => {
      out.write('\x1b[2K');
      cb?.();
      return true;
    },
    moveCursor: (_dx: number, dy: number, cb?: () => void) => {
      if (dy) out.write(`\x1b[${Math.abs(dy)}${dy < 0 ? 'A' : 'B'}`);
      cb?.();
      return true;
    },
  });
  out.text = () => text;
  return out;
}

/** Lets stream 'data' events already queued reach the listener (setImmediate is not faked). */
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('waiting for the browser', () => {
  const ci = process.env.CI;
  afterEach(() => {
    vi.useRealTimers();
    if (ci !== undefined) process.env.CI = ci;
  });

  it('animates a spinner on a terminal, and stops it when the browser comes back', async () => {
    // A terminal outside CI: the spinner library draws frames only then (under CI it prints once).
    delete process.env.CI;
    // The spinner's clock is faked: the test advances it, so machine load cannot change the frame count.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    const stderr = stream(true);
    const trace = new Trace({ json: false, verbose: false, stdout: stream(false), stderr });
    const spinner = trace.spinner('Waiting for the browser…');
    vi.advanceTimersByTime(1000);
    await flush();
    spinner.stop();
    await flush();
    const written = stderr.text();
    vi.advanceTimersByTime(1000);
    await flush();
    expect(stderr.text()).toBe(written); // stopped: no more frames
    expect(written).toContain('Waiting for the browser…');
    // More than one frame was drawn (the spinner moved), and nothing stays behind it.
    const frames = new Set(written.match(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/g) ?? []);
    expect(frames.size).toBeGreaterThan(1);
  });

  it('prints one plain line instead when stderr is not a terminal, and nothing in --json mode', () => {
    const plain = stream(false);
    new Trace({ json: false, verbose: false, stdout: stream(false), stderr: plain }).spinner('Waiting for the browser…').stop();
    expect(plain.text()).toBe('  Waiting for the browser…\n');
    const json = stream(true);
    const stdout = stream(false);
    new Trace({ json: true, verbose: false, stdout, stderr: json }).spinner('Waiting for the browser…').stop();
    expect(json.text() + stdout.text()).toBe('');
  });
});
