import * as z from 'zod/v4';
import { UpstreamSignInRequired, UpstreamUnavailable } from '../../upstream/index.ts';
import { defineTool } from '../registry.ts';

const output = z.object({
  issuer: z.string().describe('the identity provider that answered'),
  profile: z.record(z.string(), z.unknown()).describe('its userinfo response: sub, email, name, …'),
});

/**
 * `upstream_profile`: what the upstream IdP says about the caller, from its userinfo endpoint,
 * called with the user's own upstream access token (token exchange at the AS). The MCP access
 * token goes to the AS only, never to the IdP.
 */
export const upstreamProfile = defineTool({
  name: 'upstream_profile',
  scopes: ['mcp:tools', 'upstream:read'],
  title: 'Profile at the identity provider',
  description: 'Returns what the upstream identity provider itself says about the signed-in user (its userinfo), fetched as that user.',
  inputSchema: z.object({}),
  outputSchema: output,
  annotations: { readOnlyHint: true, openWorldHint: true },
  handler:
    ({ auth, upstream }) =>
    async () => {
      try {
        let token = await upstream.tokenFor(auth);
        let profile;
        try {
          profile = await upstream.userinfo.fetch(token.accessToken, token.tokenType);
        } catch (error) {
          if (!(error instanceof UpstreamSignInRequired)) throw error;
          // The cached token may have been replaced at the AS: one more exchange, then give up.
          upstream.forget(auth);
          token = await upstream.tokenFor(auth);
          profile = await upstream.userinfo.fetch(token.accessToken, token.tokenType);
        }
        const result = { issuer: upstream.issuer, profile };
        return { content: [{ type: 'text', text: JSON.stringify(result, null, 2) }], structuredContent: result };
      } catch (error) {
        const text =
          error instanceof UpstreamSignInRequired
            ? `Sign in again to use this tool (${error.message}). Log in to this MCP server once more — the identity provider will ask you to sign in — then retry.`
            : error instanceof UpstreamUnavailable
              ? `The identity provider cannot be used right now: ${error.message}.`
              : 'The profile could not be fetched. Try again shortly.';
        return { isError: true, content: [{ type: 'text', text }] };
      }
    },
});
