/**
 * Loopback redirect URIs (RFC 8252 §7.3): which ones the CLI can listen on, and how they
 * are written. Most authorization servers compare redirect URIs as strings, so the URI the
 * CLI sends must be the registered one character for character, port included.
 */

export type LoopbackHost = '127.0.0.1' | '[::1]' | 'localhost';

export interface LoopbackTarget {
  host: LoopbackHost;
  /** 0: any free port (only where the registration has no port, or is about to be made). */
  port: number;
  path: string;
}

/** What a fresh registration uses: RFC 8252 §8.3 prefers the IP literal to `localhost`. */
export const FRESH_TARGET: LoopbackTarget = { host: '127.0.0.1', port: 0, path: '/callback' };

export function formatLoopbackUri(target: Pick<LoopbackTarget, 'host' | 'path'>, port: number): string {
  return `http://${target.host}${port ? `:${port}` : ''}${target.path}`;
}

/**
 * A redirect URI the CLI can serve: http, a loopback host, an optional port, a path, and
 * nothing else. Undefined for anything else — and for URIs that a parser would rewrite
 * (dot segments, default port, case), because the CLI must send back exactly what was
 * registered.
 */
export function parseLoopbackRedirectUri(uri: string): LoopbackTarget | undefined {
  const url = URL.parse(uri);
  if (!url || url.protocol !== 'http:' || url.username || url.password || url.search || url.hash) return undefined;
  if (url.hostname !== '127.0.0.1' && url.hostname !== '[::1]' && url.hostname !== 'localhost') return undefined;
  const target: LoopbackTarget = { host: url.hostname, port: url.port ? Number(url.port) : 0, path: url.pathname };
  return formatLoopbackUri(target, target.port) === uri ? target : undefined;
}

/** The redirect URIs of a list the CLI can listen on, in order, as targets. */
export function loopbackTargets(uris: readonly string[] | undefined): { uri: string; target: LoopbackTarget }[] {
  return (uris ?? []).flatMap((uri) => {
    const target = parseLoopbackRedirectUri(uri);
    return target ? [{ uri, target }] : [];
  });
}
