/**
 * The one error type the CLI shows to a user: what failed, and what to do about it.
 * Anything else that escapes a command is an unexpected bug (shown with its stack only
 * under --verbose).
 */
export class CliError extends Error {
  /** Short machine-readable code, used as `error` in the --json error line. */
  readonly code: string;
  /** What the user can do next. */
  readonly hint: string | undefined;
  /** Process exit code. */
  readonly exitCode: number;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Usage errors (bad arguments) exit with 2, like most CLIs. */
export function usageError(message: string): CliError {
  return new CliError('usage', message, { hint: 'Run `mcp-client --help` for usage.', exitCode: 2 });
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** The low-level network error code behind a failed fetch (ECONNREFUSED, ENOTFOUND, ...), if any. */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    if (current.name === 'TimeoutError' || current.name === 'AbortError') return 'ETIMEDOUT';
    current = current.cause;
  }
  return undefined;
}

/** The innermost cause's message ("fetch failed" itself says little). */
function deepestMessage(error: unknown): string {
  let current: unknown = error;
  let message = String(error);
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    message = current.message;
    current = current.cause;
  }
  return message;
}

/** A fetch failed before any HTTP response arrived (refused, DNS, reset, timeout). */
export function isNetworkError(error: unknown): boolean {
  return (error instanceof TypeError && error.message === 'fetch failed') || networkErrorCode(error) !== undefined;
}

/** Turns a failed fetch into "cannot reach <what> at <url>". */
export function unreachable(what: string, url: string | URL, error: unknown): CliError {
  const code = networkErrorCode(error);
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND'
        ? 'host not found'
        : code === 'ETIMEDOUT'
          ? 'timed out'
          : (code ?? deepestMessage(error));
  return new CliError('unreachable', `Cannot reach the ${what} at ${String(url)} (${reason}).`, {
    hint: `Check that the ${what} is running and that the URL is right.`,
    cause: error,
  });
}
