/**
 * The user's own Client ID Metadata Document (--client-metadata-url), read for the redirect
 * URIs it lists: the authorization server will only send the browser back to one of those,
 * so the CLI listens on one of those.
 */
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { printable } from './authorize.ts';

/** The document's redirect_uris, or why they could not be read. */
export async function documentRedirectUris(url: string, trace: Trace): Promise<{ redirectUris: string[] } | { problem: string }> {
  const start = performance.now();
  let problem: string;
  try {
    const response = await trace.fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(5_000) });
    const body = (await response.json().catch(() => undefined)) as { redirect_uris?: unknown } | undefined;
    const uris = body?.redirect_uris;
    if (!response.ok) problem = `HTTP ${response.status}`;
    else if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string')) problem = 'it has no redirect_uris list';
    else {
      trace.step(
        'client_metadata_document',
        { url, redirectUris: uris, ms: since(start) },
        `${url} lists redirect_uris=[${uris.map((u) => printable(u, 120)).join(', ')}]`,
      );
      return { redirectUris: uris };
    }
  } catch (error) {
    problem = error instanceof Error ? printable(error.cause instanceof Error ? error.cause.message : error.message, 120) : String(error);
  }
  trace.step('client_metadata_document', { url, error: problem, ms: since(start) }, `could not read ${url} (${problem})`, false);
  return { problem };
}
