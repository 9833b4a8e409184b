import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
// undici's own fetch with its Agent: the global fetch is a different undici build.
import { Agent, fetch as undiciFetch } from 'undici';
import type { Logger } from '../log.ts';
import { outboundVerdict } from './network.ts';

/**
 * Client ID Metadata Documents (MCP 2026-07-28's preferred registration). oidc-provider
 * fetches the document (2.5 s timeout, 5 KiB cap, no redirects, `client_id` must equal the
 * URL, cached per Cache-Control) and re-checks the connected address; these two hooks add:
 *
 * - `allowFetch`: the host is resolved first and the fetch refused when any address is
 *   loopback, private, link-local, metadata-service or otherwise non-public — so no
 *   connection to such an address is ever opened;
 * - `fetch` (only when widened for development or private PKI): loopback hosts with
 *   CIMD_ALLOW_LOOPBACK, over a connection pinned to the checked address, trusting `ca`.
 */
export function cimdAllowFetch(options: { allowLoopback: boolean; logger: Logger }) {
  return async (_ctx: KoaContextWithOIDC, clientId: string): Promise<boolean> => {
    const verdict = await outboundVerdict(new URL(clientId), options);
    if (!verdict.allowed) options.logger.info({ clientId, reason: verdict.reason }, 'client metadata document not fetched');
    return verdict.allowed;
  };
}

export function cimdFetch(options: { allowLoopback: boolean; ca?: string | undefined }): NonNullable<Configuration['fetch']> {
  return async (url, init) => {
    const verdict = await outboundVerdict(new URL(url), options);
    if (!verdict.allowed || !verdict.loopback) {
      // Not ours to widen: oidc-provider's guarded dispatcher stays in place.
      return globalThis.fetch(url, init as RequestInit);
    }
    const address = verdict.addresses[0]!;
    const family = address.includes(':') ? 6 : 4;
    const dispatcher = new Agent({
      connect: {
        ...(options.ca ? { ca: options.ca } : {}),
        lookup: (_hostname, _options, callback) => callback(null, [{ address, family }]),
      },
    });
    try {
      const { dispatcher: _guarded, ...rest } = init as RequestInit & { dispatcher?: unknown };
      return (await undiciFetch(String(url), { ...(rest as object), dispatcher })) as unknown as Response;
    } finally {
      void dispatcher.close();
    }
  };
}
