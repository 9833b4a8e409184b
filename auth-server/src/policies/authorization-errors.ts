import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientOrigin } from './client-registration.ts';

/**
 * RFC 9700 §4.11.2: an authorization server that sends every authorization error straight
 * to the client's redirect URI is an open redirector for anyone who registers one. So an
 * error at the authorization endpoint itself — before the user has seen a page of ours —
 * is redirected automatically only for the operator's clients (CLIENTS_FILE). A
 * self-described client (DCR, metadata document) gets an error page with a link back to
 * its redirect URI, which the user may follow. Errors after the user acted (Deny on the
 * consent page, an abandoned IdP login) return to the client as usual: the user has seen
 * where the browser goes.
 */
interface RedirectableError {
  allow_redirect?: boolean;
  message: string;
  error_description?: string;
}

export function authorizationErrorRedirects(configuredIds: ReadonlySet<string>) {
  const links = new WeakMap<object, string>();
  return {
    /**
     * For `provider.on('authorization.error')`: oidc-provider emits it with the error before
     * it decides between redirect and error page (shared/authorization_error_handler.js),
     * so clearing `allow_redirect` here turns the redirect into renderError's page.
     */
    onError: (ctx: KoaContextWithOIDC, error: RedirectableError) => {
      const client = ctx.oidc.client;
      if (ctx.oidc.route !== 'authorization' || !error.allow_redirect || !client) return;
      if (clientOrigin(client.clientId, configuredIds) === 'configured') return;
      error.allow_redirect = false;
      const params = (ctx.oidc.params ?? ctx.query) as Record<string, unknown>;
      const redirectUri = typeof params.redirect_uri === 'string' ? params.redirect_uri : undefined;
      if (!redirectUri || !client.redirectUriAllowed(redirectUri)) return;
      const answer = new URLSearchParams({ error: error.message, ...(error.error_description ? { error_description: error.error_description } : {}) });
      if (typeof params.state === 'string') answer.set('state', params.state);
      answer.set('iss', ctx.oidc.provider.issuer);
      const link = new URL(redirectUri);
      if (params.response_mode === 'fragment') link.hash = answer.toString();
      else for (const [key, value] of answer) link.searchParams.set(key, value);
      links.set(error, link.href);
    },
    /** The way back to the application for an error page, when the redirect URI is the client's. */
    linkFor(error: unknown): string | undefined {
      return typeof error === 'object' && error !== null ? links.get(error) : undefined;
    },
  };
}
