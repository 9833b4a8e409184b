import * as z from 'zod/v4';
import { defineTool } from '../registry.ts';

const output = z.object({
  subject: z.string(),
  email: z.string().optional(),
  name: z.string().optional(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.string().describe('ISO 8601 time at which the access token expires'),
});

/** `whoami`: the identity that reached the tool, read from the verified access token. */
export const whoami = defineTool({
  name: 'whoami',
  scopes: ['mcp:tools'],
  title: 'Who am I',
  description: 'Returns the signed-in user and the client and scopes of the access token used for this call.',
  inputSchema: z.object({}),
  outputSchema: output,
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler:
    ({ caller }) =>
    async () => {
      const identity = {
        subject: caller.subject,
        ...(caller.email ? { email: caller.email } : {}),
        ...(caller.name ? { name: caller.name } : {}),
        clientId: caller.clientId,
        scopes: caller.scopes,
        expiresAt: new Date(caller.expiresAt * 1000).toISOString(),
      };
      return {
        content: [{ type: 'text', text: JSON.stringify(identity, null, 2) }],
        structuredContent: identity,
      };
    },
});
