import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Caller } from '../auth/verifier.ts';
import type { Upstream } from '../upstream/index.ts';
import type { NotesStore } from './notes/store.ts';

/**
 * What a tool, resource or prompt handler is built with, once per request: the verified
 * caller (handlers close over it, so no argument can name another user) and the server's
 * services.
 */
export interface RequestContext {
  caller: Caller;
  /** The verified call's AuthInfo, for token exchange (never sent to an upstream API). */
  auth: AuthInfo;
  notes: NotesStore;
  upstream: Upstream;
}
