import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
// undici's own fetch with its Agent: the global fetch is a different undici build.
import { Agent, fetch as undiciFetch } from 'undici';
import type { Logger } from '../log.ts';
import { outboundVerdict } from './network.ts';

/**
 * Every URL oidc-provider fetches comes from a client — a Client ID Metadata Document, a
 * `jwks_uri`, a `sector_identifier_uri` — except the `jwks_uri`s the operator wrote in
 * CLIENTS_FILE. All of them go through `clientUrlFetch`, the provider's one `fetch`:
 *
 * - the host is resolved first and the request refused when any address is loopback,
 *   private, link-local, metadata-service or otherwise non-public — no connection to such
 *   an address is ever opened (oidc-provider's own guard only drops the socket after it
 *   connected, which still tells an open port from a closed one);
 * - the connection is pinned to the address that was checked, so a second DNS answer
 *   cannot swap in another one, and redirects are never followed;
 * - CIMD_ALLOW_LOOPBACK (development) lets loopback hosts through; `ca` adds trusted
 *   certificates (tests, private PKI);
 * - `operatorUrls` (CLIENTS_FILE `jwks_uri`s, compared as normalised URLs) skip the address
 *   check: the operator chose them, and a key service on the private network is normal. They
 *   are still fetched without following redirects. A client naming one of them gets nothing
 *   it could not already get: that URL's public keys.
 *
 * The fields whose fetch this stack has no use for are refused at registration as well:
 * `sector_identifier_uri` from every client, `jwks_uri` from self-registered ones
 * (policies/client-registration.ts).
 */
export interface OutboundOptions {
  allowLoopback: boolean;
  ca?: string | undefined;
  logger: Logger;
  operatorUrls?: ReadonlySet<string>;
}

export function clientUrlFetch(options: OutboundOptions): NonNullable<Configuration['fetch']> {
  return async (url, init) => {
    const target = new URL(url);
    let pinned: string | undefined;
    if (!options.operatorUrls?.has(target.href)) {
      const verdict = await outboundVerdict(target, options);
      if (!verdict.allowed) {
        options.logger.info({ host: target.host, reason: verdict.reason }, 'outbound request refused');
        throw new Error(`${target.host} was not contacted: ${verdict.reason}`);
      }
      pinned = verdict.addresses[0]!;
    }
    const address = pinned;
    const dispatcher = new Agent({
      connect: {
        ...(options.ca ? { ca: options.ca } : {}),
        ...(address ? { lookup: (_hostname, _options, callback) => callback(null, [{ address, family: address.includes(':') ? 6 : 4 }]) } : {}),
      },
    });
    try {
      // oidc-provider's dispatcher is replaced by the pinned one; its timeout signal stays.
      const { dispatcher: _replaced, ...rest } = init as RequestInit & { dispatcher?: unknown };
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- undici's Response is another class than the global one, standing in for it here
      return (await undiciFetch(target.href, { ...(rest as object), redirect: 'manual', dispatcher })) as unknown as Response;
    } finally {
      void dispatcher.close();
    }
  };
}

/**
 * Client ID Metadata Documents: the id must name a document, not a site — an https URL
 * with a path (draft-ietf-oauth-client-id-metadata-document §3); `https://host` alone
 * would fetch the site's home page. The address rules are clientUrlFetch's.
 */
export function cimdAllowFetch(options: { logger: Logger }) {
  return async (_ctx: KoaContextWithOIDC, clientId: string): Promise<boolean> => {
    const url = URL.parse(clientId);
    const problem = !url ? 'not a URL' : url.pathname === '/' || url.pathname === '' ? 'the client id has no path' : undefined;
    if (problem) options.logger.info({ clientId, reason: problem }, 'client metadata document not fetched');
    return problem === undefined;
  };
}
