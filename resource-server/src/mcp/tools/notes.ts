import * as z from 'zod/v4';
import { MAX_NOTE_LENGTH, NotesLimitError, type Note } from '../notes/store.ts';
import { defineTool } from '../registry.ts';

/**
 * The caller's own notes. Each handler closes over the verified caller and passes its
 * subject to the store: there is no argument through which another user could be named.
 * The scopes declared here are enforced before the request reaches a handler (auth/bearer.ts).
 */

const note = z.object({ id: z.string(), text: z.string(), createdAt: z.string() });

function result<T extends Record<string, unknown>>(structured: T, text: string) {
  return { content: [{ type: 'text' as const, text }], structuredContent: structured };
}

function render(notes: Note[]): string {
  return notes.length ? notes.map((n) => `- [${n.id}] ${n.text}`).join('\n') : 'No notes yet.';
}

export const notesList = defineTool({
  name: 'notes_list',
  scopes: ['mcp:tools'],
  title: 'List my notes',
  description: 'Lists the signed-in user’s notes, oldest first.',
  inputSchema: z.object({}),
  outputSchema: z.object({ notes: z.array(note) }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler:
    ({ caller, notes: store }) =>
    async () => {
      const notes = await store.list(caller.subject);
      return result({ notes }, render(notes));
    },
});

export const notesAdd = defineTool({
  name: 'notes_add',
  scopes: ['mcp:tools', 'notes:write'],
  title: 'Add a note',
  description: 'Saves a note for the signed-in user. Needs the notes:write scope.',
  inputSchema: z.object({ text: z.string().trim().min(1).max(MAX_NOTE_LENGTH).describe('The note') }),
  outputSchema: z.object({ note }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  handler:
    ({ caller, notes: store }) =>
    async ({ text }) => {
      try {
        const added = await store.add(caller.subject, text);
        return result({ note: added }, `Saved note ${added.id}.`);
      } catch (error) {
        if (error instanceof NotesLimitError) return { content: [{ type: 'text', text: error.message }], isError: true };
        throw error;
      }
    },
});

export const notesDelete = defineTool({
  name: 'notes_delete',
  scopes: ['mcp:tools', 'notes:write'],
  title: 'Delete a note',
  description: 'Deletes one of the signed-in user’s notes by id. Needs the notes:write scope.',
  inputSchema: z.object({ id: z.string().min(1).max(100).describe('The id notes_list or notes_add returned') }),
  outputSchema: z.object({ deleted: z.boolean(), id: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  handler:
    ({ caller, notes: store }) =>
    async ({ id }) => {
      if (await store.remove(caller.subject, id)) return result({ deleted: true, id }, `Deleted note ${id}.`);
      // Same answer whether the id is unknown or someone else's: nothing to learn from it.
      return { content: [{ type: 'text', text: `You have no note with id ${id}.` }], isError: true };
    },
});
