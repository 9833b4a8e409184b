import * as z from 'zod/v4';
import { definePrompt } from '../registry.ts';
import { notesUri } from '../resources/notes.ts';

/** `summarize_notes`: asks the model to summarise the caller's notes, embedded as the notes resource. */
export const summarizeNotes = definePrompt({
  name: 'summarize_notes',
  scopes: ['mcp:prompts'],
  title: 'Summarise my notes',
  description: 'A prompt that summarises the signed-in user’s notes.',
  argsSchema: z.object({
    focus: z.string().max(200).optional().describe('What the summary should concentrate on'),
  }),
  handler:
    ({ caller, notes: store }) =>
    async ({ focus }) => {
      const notes = await store.list(caller.subject);
      const ask = `Summarise my ${notes.length} note${notes.length === 1 ? '' : 's'} in a few bullet points${focus ? `, concentrating on ${focus}` : ''}.`;
      return {
        description: `Summary of ${caller.email ?? caller.subject}'s notes`,
        messages: [
          {
            role: 'user' as const,
            content: {
              type: 'resource' as const,
              resource: { uri: notesUri(caller.subject), mimeType: 'application/json', text: JSON.stringify({ notes }, null, 2) },
            },
          },
          { role: 'user' as const, content: { type: 'text' as const, text: ask } },
        ],
      };
    },
});
