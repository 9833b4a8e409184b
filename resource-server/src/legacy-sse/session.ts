import type { AuthInfo, McpServer } from '@modelcontextprotocol/server';
import { callerOf, type Caller } from '../auth/verifier.ts';
import type { SseServerTransport } from './transport.ts';

/** Why a session ended; logged, never shown to another user. */
export type EndReason = 'expired' | 'revoked' | 'idle' | 'shutdown' | 'disconnected';

export interface Revocations {
  has(grantId: string): boolean;
}

/**
 * One HTTP+SSE session: a stream, the MCP server connected to it, and whom it belongs to —
 * the subject and client of the token that opened it. Later POSTs may carry other tokens of
 * that same subject and client (a refreshed token, a stepped-up one); the session follows
 * the latest: its tools see that token's scopes and expiry, and the session ends when that
 * token expires or when any grant it rode on is revoked.
 */
export class LegacySseSession {
  readonly id: string;
  readonly subject: string;
  readonly clientId: string;
  readonly transport: SseServerTransport;
  /**
   * What the session's MCP server was built with. Its handlers keep these two objects, so
   * they are this session's own copies (never the verifier's cached ones), updated in place
   * by `accept()`.
   */
  readonly authInfo: AuthInfo;
  readonly #caller: Caller;
  readonly #grants = new Set<string>();
  #server: McpServer | undefined;
  lastActivityAt: number;

  constructor(id: string, opening: AuthInfo, transport: SseServerTransport, now: number) {
    const caller = callerOf(opening);
    this.id = id;
    this.subject = caller.subject;
    this.clientId = caller.clientId;
    this.transport = transport;
    this.#caller = { ...caller };
    this.authInfo = { ...opening, extra: { ...opening.extra, caller: this.#caller } };
    if (caller.grantId) this.#grants.add(caller.grantId);
    this.lastActivityAt = now;
  }

  set server(server: McpServer) {
    this.#server = server;
  }

  /** Whether a verified caller may use this session: same subject, same client. */
  ownedBy(caller: Caller): boolean {
    return caller.subject === this.subject && caller.clientId === this.clientId;
  }

  /** A POST of the owner was let through the gate: its token becomes the session's. */
  accept(authInfo: AuthInfo, now: number) {
    const caller = callerOf(authInfo);
    Object.assign(this.#caller, caller);
    Object.assign(this.authInfo, { ...authInfo, extra: { ...authInfo.extra, caller: this.#caller } });
    if (caller.grantId) this.#grants.add(caller.grantId);
    this.lastActivityAt = now;
  }

  /** Why the session is over by now, if it is. */
  endReason(now: number, revoked: Revocations | undefined, idleMs: number): EndReason | undefined {
    if (this.#caller.expiresAt * 1000 <= now) return 'expired';
    if (revoked && [...this.#grants].some((grantId) => revoked.has(grantId))) return 'revoked';
    if (now - this.lastActivityAt >= idleMs) return 'idle';
    return undefined;
  }

  /** Ends the stream and the MCP server; settles once both are done. */
  async close() {
    await this.transport.close();
    await this.#server?.close().catch(() => {});
  }
}
