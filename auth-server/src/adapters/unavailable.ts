import { errors, type Adapter } from 'oidc-provider';
import { decorateAdapter } from './decorate.ts';

/**
 * The store could not be reached (Redis down, SQLite busy past its timeout or failing on
 * disk). An oidc-provider error on purpose: thrown from inside a protocol endpoint it is
 * answered by oidc-provider itself as `503 {"error":"temporarily_unavailable"}` (RFC 6749
 * §4.1.2.1 and §5.2 use that code), never as a 500; elsewhere the error boundary answers it
 * the same way, and browsers get a 503 page. The cause stays for the log, not the client.
 */
export class StorageUnavailableError extends errors.OIDCProviderError {
  override error_description = 'The server’s storage is unavailable; try again shortly.';
  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable', { cause });
    this.name = 'StorageUnavailableError';
    // oidc-provider shows exposed errors to the client; this one is meant to be seen.
    this.expose = true;
  }
}

/** Is this failure the backend's (down, unreachable, busy) rather than a decision of the adapter? */
export type BackendFailure = (error: unknown) => boolean;

/** Every adapter method, with backend failures turned into StorageUnavailableError. */
export function guardAdapter(adapter: Adapter, isBackendFailure: BackendFailure): Adapter {
  return decorateAdapter(adapter, (_method, call) => async (...args) => {
    try {
      return await call(...args);
    } catch (error) {
      // The adapter's own decisions (a replayed code: invalid_grant) are answers, not outages.
      if (error instanceof errors.OIDCProviderError) throw error;
      throw isBackendFailure(error) ? new StorageUnavailableError(error) : error;
    }
  });
}

/** node:sqlite failures that mean "try again later", not "bad data": busy, locked, I/O, disk full, cannot open. */
const SQLITE_TRANSIENT = new Set([5, 6, 10, 13, 14]);

export function sqliteFailure(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  return code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && SQLITE_TRANSIENT.has(errcode & 0xff);
}
