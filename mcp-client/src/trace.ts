/**
 * How each step of the flow is shown.
 *
 * - human mode: one line per step on stderr ("✓ step  what was learned  (12 ms)"); the
 *   command's result goes to stdout, so `mcp-client call … > out.txt` captures only it.
 * - --json: every step is one NDJSON object on stdout, `{"step": "...", ..., "ms": 3}`;
 *   the last line of a command is `{"step":"result", ...}` or `{"step":"error", ...}`.
 * - --verbose: additionally dumps every HTTP exchange (redacted) on stderr.
 *
 * Secrets never reach either stream: the flow only hands summaries to `step`, and the
 * HTTP dumps go through the redaction functions below.
 */
import { styleText } from 'node:util';
import type { Writable } from 'node:stream';
import yoctoSpinner from 'yocto-spinner';
import type { FetchLike } from '@modelcontextprotocol/client';
import type { CliError } from './errors.ts';

// ---------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------

export const REDACTED = '[REDACTED]';

/** Parameter / JSON member names whose values are credentials. */
const SECRET_KEYS = new Set([
  'code',
  'code_verifier',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'token',
  'assertion',
  'client_assertion',
  'subject_token',
  'actor_token',
  'registration_access_token',
  'password',
]);

/** Headers whose values are credentials. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'dpop']);

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
}

/** `Authorization: Bearer abc` → `Bearer [REDACTED]` (keeps the scheme, drops the credential). */
export function redactHeaderValue(name: string, value: string): string {
  if (!SECRET_HEADERS.has(name.toLowerCase())) return value;
  const scheme = /^(Bearer|Basic|DPoP)\s/i.exec(value)?.[1];
  return scheme ? `${scheme} ${REDACTED}` : REDACTED;
}

export function redactHeaders(headers: ConstructorParameters<typeof Headers>[0] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers ?? {}).forEach((value, name) => {
    out[name] = redactHeaderValue(name, value);
  });
  return out;
}

/** Redacts secret query parameters (e.g. `code` on a callback URL). */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return String(url);
  }
  for (const key of [...parsed.searchParams.keys()]) {
    if (isSecretKey(key)) parsed.searchParams.set(key, REDACTED);
  }
  return parsed.href;
}

/** Deep-copies a JSON value, replacing the values of secret members. */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      // Credentials are strings; numbers under the same names (JSON-RPC error `code`) stay.
      out[key] = isSecretKey(key) && typeof member === 'string' ? REDACTED : redactJson(member);
    }
    return out;
  }
  return value;
}

/** Redacts a request/response body given as text: JSON, form-encoded, or left alone. */
export function redactBody(text: string, contentType?: string | null): string {
  const type = (contentType ?? '').toLowerCase();
  const trimmed = text.trim();
  if (type.includes('json') || ((!type || type.startsWith('text/plain')) && /^[[{]/.test(trimmed))) {
    try {
      return JSON.stringify(redactJson(JSON.parse(text)));
    } catch {
      // not JSON after all: fall through
    }
  }
  if (type.includes('x-www-form-urlencoded') || (!type && /^[\w.-]+=[^\s]*(&[\w.-]+=[^\s]*)*$/.test(trimmed))) {
    const params = new URLSearchParams(text);
    for (const key of [...params.keys()]) {
      if (isSecretKey(key)) params.set(key, REDACTED);
    }
    return params.toString();
  }
  return text;
}

// ---------------------------------------------------------------------------
// Trace
// ---------------------------------------------------------------------------

export interface TraceOptions {
  json: boolean;
  verbose: boolean;
  stdout?: Writable & { isTTY?: boolean };
  stderr?: Writable & { isTTY?: boolean };
}

/** One HTTP exchange as seen by the traced fetch (no bodies, no secret values). */
export interface HttpRecord {
  method: string;
  url: string;
  status?: number;
  ms: number;
  error?: string;
}

export interface Spinner {
  stop(): void;
}

/** Milliseconds since `start` (performance.now()), rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

export class Trace {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  /** Every HTTP exchange made through `fetch`, in order. */
  readonly requests: HttpRecord[] = [];

  constructor(options: TraceOptions) {
    this.json = options.json;
    this.verbose = options.verbose;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
  }

  private style(format: Parameters<typeof styleText>[0], text: string): string {
    return styleText(format, text, { stream: this.stderr });
  }

  /** Emits one step: an NDJSON line in --json mode, else one human line on stderr. */
  step(step: string, data: Record<string, unknown>, human: string, ok = true): void {
    if (this.json) {
      this.writeJson({ step, ...data });
      return;
    }
    const mark = ok ? this.style('green', '✓') : this.style('yellow', '!');
    const ms = typeof data['ms'] === 'number' ? this.style('dim', ` (${data['ms']} ms)`) : '';
    // Timing goes on the first line, so a URL on its own continuation line can be copied cleanly.
    const [first, ...rest] = human.split('\n');
    const tail = rest.length ? `\n${rest.join('\n')}` : '';
    this.stderr.write(`${mark} ${this.style('bold', step.padEnd(29))} ${first}${ms}${tail}\n`);
  }

  /** A human-only progress note (nothing in --json mode). */
  note(text: string): void {
    if (!this.json) this.stderr.write(`  ${this.style('dim', text)}\n`);
  }

  /** The final line of a command. */
  result(data: Record<string, unknown>, human: string): void {
    if (this.json) this.writeJson({ step: 'result', ...data });
    else this.stdout.write(human.endsWith('\n') ? human : `${human}\n`);
  }

  /** The final line of a failed command. */
  error(error: CliError, stack?: string): void {
    if (this.json) {
      this.writeJson({ step: 'error', error: error.code, message: error.message, hint: error.hint });
    } else {
      this.stderr.write(`${this.style('red', '✗')} ${error.message}\n`);
      if (error.hint) this.stderr.write(`  ${error.hint}\n`);
    }
    if (stack && this.verbose) {
      this.stderr.write(`${stack}\n`);
      let cause = error.cause;
      for (let depth = 0; depth < 5 && cause instanceof Error; depth++, cause = cause.cause) this.stderr.write(`Caused by: ${cause.stack ?? cause.message}\n`);
    }
  }

  /** --verbose diagnostics, always on stderr so stdout stays clean NDJSON / results. */
  debug(text: string): void {
    if (this.verbose) this.stderr.write(`${this.style('dim', text)}\n`);
  }

  /** A spinner on stderr while waiting (human mode on a terminal only). */
  spinner(text: string): Spinner {
    if (this.json || !this.stderr.isTTY || this.verbose) {
      this.note(text);
      return { stop() {} };
    }
    const spinner = yoctoSpinner({ text, stream: this.stderr }).start();
    return {
      stop() {
        spinner.stop();
      },
    };
  }

  private writeJson(value: Record<string, unknown>): void {
    // Drop undefined members so lines stay compact; JSON.stringify does that already.
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /**
   * A fetch that records every exchange in `requests` and, under --verbose, dumps the
   * request and response (headers and bodies) with credentials redacted.
   */
  readonly fetch: FetchLike = async (input, init) => {
    const method = (init?.method ?? 'GET').toUpperCase();
    const url = String(input);
    const start = performance.now();
    if (this.verbose) this.dumpRequest(method, url, init);
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      const record: HttpRecord = { method, url: redactUrl(url), ms: since(start), error: error instanceof Error ? error.message : String(error) };
      this.requests.push(record);
      this.debug(`<- ${method} ${record.url} failed: ${record.error}`);
      throw error;
    }
    this.requests.push({ method, url: redactUrl(url), status: response.status, ms: since(start) });
    if (this.verbose) await this.dumpResponse(response, since(start));
    return response;
  };

  private dumpRequest(method: string, url: string, init: RequestInit | undefined): void {
    const lines = [`-> ${method} ${redactUrl(url)}`];
    for (const [name, value] of Object.entries(redactHeaders(init?.headers))) lines.push(`   ${name}: ${value}`);
    const body = init?.body;
    if (typeof body === 'string' || body instanceof URLSearchParams) {
      const contentType =
        new Headers(init?.headers ?? {}).get('content-type') ?? (body instanceof URLSearchParams ? 'application/x-www-form-urlencoded' : null);
      lines.push(`   ${redactBody(String(body), contentType)}`);
    } else if (body !== undefined && body !== null) {
      lines.push('   (streamed body)');
    }
    this.debug(lines.join('\n'));
  }

  private async dumpResponse(response: Response, ms: number): Promise<void> {
    const lines = [`<- ${response.status} ${response.statusText} (${ms} ms)`];
    for (const [name, value] of Object.entries(redactHeaders(response.headers))) lines.push(`   ${name}: ${value}`);
    const contentType = response.headers.get('content-type');
    if (contentType?.includes('text/event-stream')) {
      lines.push('   (event stream)');
    } else if (response.body) {
      const text = await response
        .clone()
        .text()
        .catch(() => '');
      // Redact the whole body first: a truncated JSON document would not parse.
      const redacted = text ? redactBody(text, contentType) : '';
      if (redacted) lines.push(`   ${redacted.length > 4000 ? `${redacted.slice(0, 4000)}…` : redacted}`);
    }
    this.debug(lines.join('\n'));
  }
}
