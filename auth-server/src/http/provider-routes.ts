import type Provider from 'oidc-provider';

/**
 * Which oidc-provider endpoint a request path reaches, decided the way its router decides
 * (lib/helpers/router.js): ASCII case-insensitive, one trailing slash ignored, no decoding.
 * `/TOKEN`, `/Token/` and `/token` are one endpoint, so middleware that applies per endpoint
 * (rate limits) keys on the route name this returns, never on the raw path. A test sends
 * every spelling the router serves; listed in the README's upgrade notes.
 */
export type RouteName = 'registration' | 'token' | 'pushed_authorization_request';

const fold = (path: string) => path.replace(/[a-z]+/g, (letters) => letters.toUpperCase());

export function providerRouteResolver(provider: Provider, names: RouteName[]) {
  const byPath = new Map(names.map((name) => [fold(provider.pathFor(name)), name]));
  return function routeOf(path: string): { name: RouteName; below: boolean } | undefined {
    let folded = fold(path);
    if (folded.length > 1 && folded.endsWith('/')) folded = folded.slice(0, -1);
    const exact = byPath.get(folded);
    if (exact) return { name: exact, below: false };
    // RFC 7592 client management lives below the registration endpoint: /reg/:clientId.
    const parent = byPath.get(folded.slice(0, folded.lastIndexOf('/')));
    return parent ? { name: parent, below: true } : undefined;
  };
}
