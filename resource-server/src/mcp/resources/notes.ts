import { ResourceNotFoundError, ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import type { Caller } from '../../auth/verifier.ts';
import type { NotesStore } from '../notes/store.ts';

/**
 * `notes://users/{subject}`: a user's notes as one JSON resource. The template is listed
 * with the caller's own URI only, and reading any other subject's URI is "not found"
 * (-32002), exactly as for a subject that does not exist.
 */

export function notesUri(subject: string): string {
  return `notes://users/${encodeURIComponent(subject)}`;
}

export function registerNotesResource(server: McpServer, caller: Caller, store: NotesStore) {
  server.registerResource(
    'user-notes',
    new ResourceTemplate('notes://users/{subject}', {
      list: async () => ({
        resources: [
          {
            uri: notesUri(caller.subject),
            name: 'my-notes',
            title: `Notes of ${caller.email ?? caller.subject}`,
            mimeType: 'application/json',
          },
        ],
      }),
    }),
    { title: 'A user’s notes', description: 'The signed-in user’s notes, as JSON.', mimeType: 'application/json' },
    async (uri, { subject }) => {
      if (typeof subject !== 'string' || decodeURIComponent(subject) !== caller.subject) throw new ResourceNotFoundError(uri.href);
      const notes = await store.list(caller.subject);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ notes }, null, 2) }] };
    },
  );
}
