import type { Readiness } from '../../auth/verifier.ts';

/**
 * Per-user notes. Every operation takes the owner (the token's `sub`) first: a note is only
 * ever looked up under its owner, so no id a caller sends can reach another user's notes.
 */

export interface Note {
  id: string;
  text: string;
  createdAt: string;
}

export interface NotesStore {
  readonly kind: 'memory' | 'redis' | 'sqlite';
  list(owner: string): Promise<Note[]>;
  /** Throws NotesLimitError when the owner already has MAX_NOTES_PER_USER notes. */
  add(owner: string, text: string): Promise<Note>;
  /** False when the owner has no note with this id (whether or not someone else has). */
  remove(owner: string, id: string): Promise<boolean>;
  readiness(): Promise<Readiness>;
  close(): Promise<void>;
}

export const MAX_NOTES_PER_USER = 200;
export const MAX_NOTE_LENGTH = 2000;

export class NotesLimitError extends Error {
  override name = 'NotesLimitError';
  constructor() {
    super(`You already have ${MAX_NOTES_PER_USER} notes; delete some first.`);
  }
}

export function byCreation(a: Note, b: Note): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1;
}

/** The store could not be reached; the message is what the user reads in the tool result. */
export class NotesUnavailableError extends Error {
  override name = 'NotesUnavailableError';
  constructor(options?: { cause: unknown }) {
    super('The notes storage is unavailable right now; try again shortly.', options);
  }
}
