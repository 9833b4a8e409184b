import * as client from 'openid-client';

/**
 * What went wrong with the upstream IdP, in the terms a user needs: it could not be reached
 * (try again shortly), it refused to complete the sign-in (start again), or its answer could
 * not be verified (something is wrong; start again).
 */
export type UpstreamFault = 'unreachable' | 'refused' | 'unverifiable';

export function upstreamFault(error: unknown): UpstreamFault {
  if (error instanceof client.ResponseBodyError) return error.status >= 500 ? 'unreachable' : 'refused';
  return unreachable(error) ? 'unreachable' : 'unverifiable';
}

/** Network errors (fetch's `fetch failed` and its socket cause), timeouts, or a 5xx where JSON was expected. */
function unreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { name, code, message } = current as { name?: unknown; code?: unknown; message?: unknown };
    if (name === 'AbortError' || name === 'TimeoutError') return true;
    if (typeof code === 'string' && /^(ECONN|ENOTFOUND|EAI_|EHOST|ENETUNREACH|ETIMEDOUT|EPIPE|UND_ERR_)/.test(code)) return true;
    if (current instanceof TypeError && message === 'fetch failed') return true;
    if (current instanceof Response) return current.status >= 500;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const SINGLE = ['code', 'state', 'iss', 'error', 'error_description'];

/**
 * The reason an IdP callback's parameters cannot be an authorization response (RFC 6749
 * §4.1.2: each parameter once; a code, or an error), or undefined when they can. Checked
 * before anything is sent to the IdP: a malformed callback is the sender's fault, not the IdP's.
 */
export function malformedCallback(query: Record<string, string | string[] | undefined>): string | undefined {
  const repeated = SINGLE.filter((name) => Array.isArray(query[name]));
  if (repeated.length) return `repeated parameters: ${repeated.join(', ')}`;
  if (query.error === undefined && !query.code) return 'neither a code nor an error';
  return undefined;
}
