import { ResourceNotFoundError } from '@modelcontextprotocol/server';
import { defineResource } from '../registry.ts';

/**
 * `notes://users/{subject}`: a user's notes as one JSON resource. The template is listed
 * with the caller's own URI only, and reading any other subject's URI is "not found"
 * (-32002), exactly as for a subject that does not exist.
 */

export function notesUri(subject: string): string {
  return `notes://users/${encodeURIComponent(subject)}`;
}

export const userNotes = defineResource({
  name: 'user-notes',
  scopes: ['mcp:resources'],
  uriTemplate: 'notes://users/{subject}',
  metadata: { title: 'A user’s notes', description: 'The signed-in user’s notes, as JSON.', mimeType: 'application/json' },
  list:
    ({ caller }) =>
    async () => ({
      resources: [
        {
          uri: notesUri(caller.subject),
          name: 'my-notes',
          title: `Notes of ${caller.email ?? caller.subject}`,
          mimeType: 'application/json',
        },
      ],
    }),
  read:
    ({ caller, notes: store }) =>
    async (uri, { subject }) => {
      if (typeof subject !== 'string' || decodeURIComponent(subject) !== caller.subject) throw new ResourceNotFoundError(uri.href);
      const notes = await store.list(caller.subject);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ notes }, null, 2) }] };
    },
});
