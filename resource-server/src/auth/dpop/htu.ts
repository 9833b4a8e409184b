/**
 * The `htu` comparison of RFC 9449 §4.3: the proof's URL and this request's URL are compared
 * after syntax- and scheme-based normalisation (RFC 3986 §6.2.2, §6.2.3) — scheme and host
 * lower-cased, the default port dropped, dot segments removed, percent-encoding in upper
 * case and unreserved characters decoded, an empty path as `/`. WHATWG URL parsing does all
 * but the percent-encoding part.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function normalizePercentEncoding(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const character = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(character) ? character : `%${hex.toUpperCase()}`;
  });
}

/** The normalised `scheme://host[:port]/path` of an absolute http(s) URL without query, fragment or credentials; else undefined. */
export function normalizeHtu(value: string): string | undefined {
  // A query or fragment is no part of htu (§4.2); even an empty one (`?`, `#`) is refused.
  if (/[?#]/.test(value)) return undefined;
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) return undefined;
  return `${url.protocol}//${url.host}${normalizePercentEncoding(url.pathname)}`;
}

/**
 * This request's URL as a proof must name it: the public origin of RESOURCE_URL (never the
 * Host header: the server may sit behind a proxy) and the path it was sent to, no query.
 */
export function requestHtu(resourceOrigin: string, rawUrl: string): string {
  // The path only, whatever form the request target took (absolute-form names its own host).
  const path = new URL(rawUrl, 'http://request.invalid').pathname;
  return normalizeHtu(`${resourceOrigin}${path}`) ?? `${resourceOrigin}${path}`;
}
