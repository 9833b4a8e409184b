import { describe, expect, it } from 'vitest';
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
    cursorTo: (x: number, cb?: () => void) => { out.write(`\x1b[${x + 1}G`); cb?.(); return true; },
    clearLine: (_dir: number, cb?: () => void) => { out.write('\x1b[2K'); cb?.(); return true; },
    moveCursor: (_dx: number, dy: number, cb?: () => void) => { if (dy) out.write(`\x1b[${Math.abs(dy)}${dy < 0 ? 'A' : 'B'}`); cb?.(); return true; },
  });
  out.text = () => text;
  return out;
}

describe('waiting for the browser', () => {
  it('animates a spinner on a terminal, and stops it when the browser comes back', async () => {
    const stderr = stream(true);
    const trace = new Trace({ json: false, verbose: false, stdout: stream(false), stderr });
    const spinner = trace.spinner('Waiting for the browser…');
    await new Promise((resolve) => setTimeout(resolve, 250));
    spinner.stop();
    const written = stderr.text();
    await new Promise((resolve) => setTimeout(resolve, 200));
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
