import { randomUUID } from 'node:crypto';
import { byCreation, MAX_NOTES_PER_USER, NotesLimitError, type Note, type NotesStore } from './store.ts';

/** In-process notes (STORE=memory): lost on restart and not shared between instances (the log says so at start). */
export class MemoryNotesStore implements NotesStore {
  readonly kind = 'memory';
  readonly #notes = new Map<string, Map<string, Note>>();

  async list(owner: string): Promise<Note[]> {
    return [...(this.#notes.get(owner)?.values() ?? [])].sort(byCreation);
  }

  async add(owner: string, text: string): Promise<Note> {
    let notes = this.#notes.get(owner);
    if (!notes) this.#notes.set(owner, (notes = new Map<string, Note>()));
    if (notes.size >= MAX_NOTES_PER_USER) throw new NotesLimitError();
    const note = { id: randomUUID(), text, createdAt: new Date().toISOString() };
    notes.set(note.id, note);
    return note;
  }

  async remove(owner: string, id: string): Promise<boolean> {
    return this.#notes.get(owner)?.delete(id) ?? false;
  }

  async readiness() {
    return { ok: true, detail: 'in-process notes store' };
  }

  async close() {}
}
