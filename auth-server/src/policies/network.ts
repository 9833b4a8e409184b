import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which addresses an outbound fetch on a client's behalf (Client ID Metadata Documents)
 * may reach: only globally routable ones. Loopback, private, link-local (including the
 * 169.254.169.254 metadata service), shared, documentation, multicast and reserved ranges
 * are refused — before any connection is made.
 */

const special = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  special.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  special.addSubnet(network, prefix, 'ipv6');
}

export function isLoopbackAddress(address: string): boolean {
  const v4 = mappedIPv4(address);
  return v4 !== undefined ? v4.startsWith('127.') : address === '::1';
}

export function isSpecialUseAddress(address: string): boolean {
  const v4 = mappedIPv4(address);
  if (v4 !== undefined) return special.check(v4, 'ipv4');
  return isIP(address) === 6 ? special.check(address, 'ipv6') : true;
}

/** `1.2.3.4` and `::ffff:1.2.3.4` as IPv4; undefined for other IPv6. */
function mappedIPv4(address: string): string | undefined {
  if (isIP(address) === 4) return address;
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match?.[1];
}

/** Every address a URL's host resolves to (the host itself when it is an IP literal). */
async function resolveHost(url: URL): Promise<string[]> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return [host];
  try {
    return (await lookup(host, { all: true, order: 'verbatim' })).map(({ address }) => address);
  } catch {
    return [];
  }
}

export type FetchVerdict = { allowed: true; loopback: boolean; addresses: string[] } | { allowed: false; reason: string };

/** May a document at `url` be fetched? Loopback only with the development switch. */
export async function outboundVerdict(url: URL, options: { allowLoopback: boolean }): Promise<FetchVerdict> {
  const addresses = await resolveHost(url);
  if (addresses.length === 0) return { allowed: false, reason: 'host does not resolve' };
  if (options.allowLoopback && addresses.every(isLoopbackAddress)) return { allowed: true, loopback: true, addresses };
  const blocked = addresses.find(isSpecialUseAddress);
  if (blocked) return { allowed: false, reason: `host resolves to a non-public address (${blocked})` };
  return { allowed: true, loopback: false, addresses };
}
