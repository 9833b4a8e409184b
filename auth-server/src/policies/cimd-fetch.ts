import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Configuration } from 'oidc-provider';
import { Agent } from 'undici';

/**
 * Outbound fetch for Client ID Metadata Documents when the defaults must be widened.
 * oidc-provider's own fetch already refuses private, loopback, link-local and metadata-
 * service addresses (its dispatcher checks every resolved address), caps the body and
 * never follows redirects. This wrapper changes one thing, for development only: a client
 * id whose host resolves to loopback — and only loopback — is fetched over a connection
 * pinned to that checked address. Everything else goes to oidc-provider's guarded dispatcher.
 */
export function cimdFetch(options: { allowLoopback: boolean; ca?: string | undefined }): NonNullable<Configuration['fetch']> {
  return async (url, init) => {
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true }).catch(() => []);
    const allLoopback = addresses.length > 0 && addresses.every(({ address }) => isLoopbackAddress(address));
    if (!options.allowLoopback || !allLoopback) {
      return globalThis.fetch(url, init as RequestInit);
    }
    const pinned = addresses[0]!;
    const dispatcher = new Agent({
      connect: {
        ...(options.ca ? { ca: options.ca } : {}),
        lookup: (_hostname, _options, callback) => callback(null, [{ address: pinned.address, family: pinned.family }]),
      },
    });
    try {
      return await globalThis.fetch(url, { ...(init as RequestInit), dispatcher } as RequestInit);
    } finally {
      void dispatcher.close();
    }
  };
}

function isLoopbackAddress(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || address === '::ffff:127.0.0.1';
}
