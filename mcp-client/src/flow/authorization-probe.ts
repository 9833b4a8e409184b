/**
 * What the authorization endpoint answers to an authorization request, without a browser
 * and without following it anywhere (for `doctor`). An authorization server refuses a bad
 * redirect URI on its own page (RFC 6749 §4.1.2.1: it must not redirect there); it sends
 * other errors to the redirect URI; an acceptable request leads to its login page.
 */
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/client';
import type { Trace } from '../trace.ts';
import { buildAuthorizationUrl, newState, printable } from './authorize.ts';

export type ProbeAnswer =
  { kind: 'accepted'; status: number } | { kind: 'refused'; status: number; error?: string } | { kind: 'error_response'; error: string; description?: string };

export async function probeAuthorization(options: {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  clientId: string;
  redirectUri: string;
  scope: string | undefined;
  resource: string | undefined;
  trace: Trace;
}): Promise<ProbeAnswer> {
  const { authorizationUrl } = await buildAuthorizationUrl({
    issuer: options.issuer,
    metadata: options.metadata,
    client: { client_id: options.clientId },
    redirectUri: options.redirectUri,
    scope: options.scope,
    state: newState(),
    resource: options.resource,
  });
  const response = await options.trace.fetch(authorizationUrl.href, {
    redirect: 'manual',
    headers: { accept: 'text/html' },
    signal: AbortSignal.timeout(30_000),
  });
  await response.body?.cancel().catch(() => {});
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) {
    const target = URL.parse(location, authorizationUrl.href);
    const error = target?.searchParams.get('error');
    if (target && error && target.href.startsWith(options.redirectUri)) {
      const description = target.searchParams.get('error_description');
      return { kind: 'error_response', error: printable(error, 80), ...(description ? { description: printable(description) } : {}) };
    }
    // Some servers show errors on an error page of their own, reached by a redirect.
    if (error) return { kind: 'refused', status: response.status, error: printable(error, 80) };
    return { kind: 'accepted', status: response.status };
  }
  return response.status < 300 ? { kind: 'accepted', status: response.status } : { kind: 'refused', status: response.status };
}

export function describeAnswer(answer: ProbeAnswer): string {
  if (answer.kind === 'accepted') return `accepted (HTTP ${answer.status}, on to the login page)`;
  if (answer.kind === 'refused')
    return `refused on the authorization server's own page (HTTP ${answer.status}${answer.error ? `, error=${answer.error}` : ''})`;
  return `error=${answer.error}${answer.description ? ` (${answer.description})` : ''} sent to the redirect URI`;
}
