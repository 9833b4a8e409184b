import type { Caller } from '../auth/verifier.ts';
import type { Logger } from '../log.ts';
import type { EndReason, LegacySseSession, Revocations } from './session.ts';

export interface SessionLimits {
  maxSessions: number;
  maxSessionsPerUser: number;
  idleMs: number;
}

/** Why a new session is refused (429), or the server is closing (503). */
export type OpenRefusal = 'too_many_sessions' | 'too_many_sessions_for_user' | 'shutting_down';

/** A silent stream gets a comment this often, so proxies that cut idle connections leave it alone. */
const KEEP_ALIVE_MS = 25_000;

/**
 * The open HTTP+SSE sessions of this process, bounded overall and per user (subject). A
 * session is found only by its owner and only while it lasts: an unknown id, another user's
 * (or client's) session and one whose token expired, whose grant was revoked or that sat idle
 * all look the same to the caller. `sweep()` closes the ones that ended — run every second,
 * and directly by tests after moving the clock.
 */
export class LegacySseSessions {
  readonly #sessions = new Map<string, LegacySseSession>();
  readonly #perUser = new Map<string, number>();
  readonly #limits: SessionLimits;
  readonly #revoked: Revocations | undefined;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor({ limits, revoked, logger }: { limits: SessionLimits; revoked?: Revocations | undefined; logger: Logger }) {
    this.#limits = limits;
    this.#revoked = revoked;
    this.#logger = logger;
  }

  get size() {
    return this.#sessions.size;
  }

  /** Whether `subject` may open one more session now. */
  refusal(subject: string): OpenRefusal | undefined {
    if (this.#closing) return 'shutting_down';
    if (this.#sessions.size >= this.#limits.maxSessions) return 'too_many_sessions';
    if ((this.#perUser.get(subject) ?? 0) >= this.#limits.maxSessionsPerUser) return 'too_many_sessions_for_user';
    return undefined;
  }

  /** Counts the session from now on (call in the same turn as `refusal`, so bounds hold); it leaves when its stream ends. */
  add(session: LegacySseSession) {
    this.#sessions.set(session.id, session);
    this.#perUser.set(session.subject, (this.#perUser.get(session.subject) ?? 0) + 1);
    this.#logger.info({ client: session.clientId, sessions: this.#sessions.size }, 'legacy SSE session opened');
    void session.transport.ended.then(() => this.#remove(session, 'disconnected'));
  }

  /** The caller's live session with this id, if there is one; an ended one is closed on the way. */
  find(id: string, caller: Caller, now = Date.now()): LegacySseSession | undefined {
    const session = this.#sessions.get(id);
    if (!session || !session.ownedBy(caller)) return undefined;
    const reason = session.endReason(now, this.#revoked, this.#limits.idleMs);
    if (reason) {
      void this.#end(session, reason);
      return undefined;
    }
    return session;
  }

  /** Closes every session that ended (token expired, grant revoked, idle); keeps the silent ones' streams warm. */
  sweep(now = Date.now()): void {
    for (const session of this.#sessions.values()) {
      const reason = session.endReason(now, this.#revoked, this.#limits.idleMs);
      if (reason) void this.#end(session, reason);
      else if (now - session.transport.lastWriteAt >= KEEP_ALIVE_MS) session.transport.keepAlive();
    }
  }

  start(intervalMs = 1000) {
    this.#timer = setInterval(() => this.sweep(), intervalMs).unref();
  }

  /** At shutdown: no new sessions, every stream ended (an open one would hold the HTTP server's close forever). */
  async closeAll() {
    this.#closing = true;
    clearInterval(this.#timer);
    await Promise.all([...this.#sessions.values()].map((session) => this.#end(session, 'shutdown')));
  }

  async #end(session: LegacySseSession, reason: EndReason) {
    this.#remove(session, reason);
    await session.close();
  }

  #remove(session: LegacySseSession, reason: EndReason) {
    if (this.#sessions.get(session.id) !== session) return;
    this.#sessions.delete(session.id);
    const left = (this.#perUser.get(session.subject) ?? 1) - 1;
    if (left > 0) this.#perUser.set(session.subject, left);
    else this.#perUser.delete(session.subject);
    this.#logger.info({ client: session.clientId, reason, sessions: this.#sessions.size }, 'legacy SSE session closed');
  }
}
