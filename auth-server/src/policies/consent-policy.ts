import { interactionPolicy } from 'oidc-provider';
import { isLoopbackRedirectUri } from './redirect-uris.ts';

/**
 * oidc-provider's prompts, plus one consent rule: an authorization that returns to a
 * loopback redirect URI asks the user every time, whatever the client calls itself.
 * Any program on the machine can listen on a loopback port (and the port may differ on
 * every login, RFC 8252 §7.3), so an earlier approval proves nothing about who receives
 * this code. oidc-provider asks `application_type: native` clients every time already;
 * MCP Inspector and the SDKs register loopback URIs as `web` clients.
 */
export function promptPolicy() {
  const policy = interactionPolicy.base();
  policy
    .get('consent')!
    .checks.add(
      new interactionPolicy.Check(
        'loopback_redirect_prompt',
        'authorizations returning to a loopback redirect URI require End-User consent',
        'consent_required',
        (ctx) =>
          isLoopbackRedirectUri(ctx.oidc.params?.redirect_uri) && !ctx.oidc.result?.consent
            ? interactionPolicy.Check.REQUEST_PROMPT
            : interactionPolicy.Check.NO_NEED_TO_PROMPT,
      ),
    );
  return policy;
}
