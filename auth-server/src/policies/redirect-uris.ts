import { errors } from 'oidc-provider';

/**
 * Which redirect URIs a client may register (DCR, CIMD or configuration), on top of
 * oidc-provider's own checks: https anywhere; http only on loopback hosts; a private-use
 * scheme only for `application_type: native`; never script, data or file URLs, fragments
 * or wildcards. Refusals are RFC 7591 `invalid_redirect_uri`.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'filesystem:']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/** The reason a redirect URI is refused, or undefined when it is acceptable. */
export function redirectUriProblem(value: string, applicationType: string | undefined): string | undefined {
  if (value.includes('*')) return 'must not contain wildcards';
  if (value.includes('#')) return 'must not contain a fragment';
  const url = URL.parse(value);
  if (!url) return 'must be an absolute URI';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol.slice(0, -1)} scheme`;
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return url.hostname ? undefined : 'must name a host';
  if (url.protocol === 'http:')
    return isLoopbackHost(url.hostname) ? undefined : 'may use http only on a loopback host (127.0.0.1, [::1], localhost); use https';
  if (applicationType === 'native' && /^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) return undefined;
  return 'must use https, http on a loopback host, or (for native applications) a private-use scheme';
}

/**
 * Hooked in as oidc-provider's `extraClientMetadata.validator`, which it calls with the full
 * metadata of every client it validates (registration, update, CIMD document, configuration).
 */
export function validateRedirectUris(metadata: { redirect_uris?: unknown; application_type?: unknown }) {
  const uris = Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris : [];
  for (const uri of uris) {
    const problem = redirectUriProblem(String(uri), typeof metadata.application_type === 'string' ? metadata.application_type : undefined);
    if (problem) throw new errors.InvalidClientMetadata(`redirect_uris ${JSON.stringify(uri)} ${problem}`);
  }
}

/**
 * `http://<loopback host>[:port]<path>[?query]` split into what must match and the port that
 * may differ; undefined for anything else — including userinfo (`http://evil@127.0.0.1/…`),
 * which no registered loopback URI has. Raw text, not a parsed URL: parsing would resolve dot
 * segments and drop userinfo, and then `/a/../callback` would match `/callback`.
 */
function loopbackParts(uri: string): { host: string; rest: string } | undefined {
  const match = /^http:\/\/(\[[0-9a-fA-F:.]+\]|[^/?#@:[\]]+)(?::\d{1,5})?((?:\/[^?#]*)?(?:\?[^#]*)?)$/.exec(uri);
  if (!match || !isLoopbackHost(match[1]!)) return undefined;
  return { host: match[1]!, rest: match[2] || '/' };
}

/**
 * RFC 8252 §7.3: a loopback redirect URI matches on any port, for any client — CLI and
 * desktop clients register `http://127.0.0.1/callback` and listen on an ephemeral port.
 * Only the port may differ: scheme, host, path and query must be the same text.
 */
export function loopbackRedirectMatches(registered: string[], requested: string): boolean {
  const target = loopbackParts(requested);
  if (!target) return false;
  return registered.some((uri) => {
    const candidate = loopbackParts(uri);
    return candidate !== undefined && candidate.host === target.host && candidate.rest === target.rest;
  });
}

/** A redirect URI on this machine: any local program can listen there (RFC 8252 §8.6). */
export function isLoopbackRedirectUri(uri: unknown): boolean {
  return typeof uri === 'string' && loopbackParts(uri) !== undefined;
}
