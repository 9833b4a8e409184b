import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import { requireProofFor, type DpopMode } from './dpop.ts';

/**
 * RFC 8707 resource indicators: which resources this AS issues tokens for, with which
 * scopes, and how a client's spelling of a resource is matched to the configured one.
 */

export interface ProtectedResource {
  /** The exact URL tokens are bound to (`aud`). */
  url: string;
  scopes: string[];
  defaultScopes: string[];
  accessTokenTtl: number;
  /**
   * `jwt` (default): verified locally by the resource server. `opaque`: a reference the
   * resource server must introspect (RFC 7662) — for resource servers built that way.
   */
  accessTokenFormat?: 'jwt' | 'opaque';
  /** DPoP (RFC 9449): `optional` (default) or `required` — then a token request without a proof is refused (dpop.ts). */
  dpop?: DpopMode;
}

/**
 * Canonical form used only for matching: scheme and host lower-cased, default port
 * dropped, one trailing slash ignored. Query and fragment never match (RFC 8707 §2).
 * The token's audience is always the configured URL itself, never the client's spelling.
 */
export function canonicalResource(value: string): string | undefined {
  const parsed = URL.parse(value);
  if (!parsed || parsed.search || parsed.hash || parsed.username || parsed.password) return undefined;
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  const path = parsed.pathname.length > 1 ? parsed.pathname.replace(/\/$/, '') : '';
  return `${parsed.protocol}//${parsed.host}${path}`;
}

/**
 * RFC 6749 §3.3: a request without `scope` gets the resource's default scopes instead of an
 * empty grant (Claude sends `scope=`; the conformance suite sends none). Runs when
 * oidc-provider resolves the resource — after scope syntax checks, before consent and issuance.
 */
function applyDefaultScopes(ctx: KoaContextWithOIDC, resource: ProtectedResource) {
  const params = ctx.oidc.params as { scope?: string; grant_type?: string } | undefined;
  if (!params || params.scope) return;
  const asksForScopes = ctx.oidc.route === 'authorization' || (ctx.oidc.route === 'token' && params.grant_type === 'client_credentials');
  if (asksForScopes) params.scope = resource.defaultScopes.join(' ');
}

export function resourcePolicy(resources: ProtectedResource[]) {
  const byCanonical = new Map(resources.map((resource) => [canonicalResource(resource.url), resource]));

  function find(indicator: string): ProtectedResource | undefined {
    const canonical = canonicalResource(indicator);
    return canonical === undefined ? undefined : byCanonical.get(canonical);
  }

  return {
    find,

    /** A request without `resource` is for the one configured resource (MCP clients vary). */
    defaultResource: async (_ctx: KoaContextWithOIDC, _client: unknown, oneOf?: readonly string[]) => {
      if (oneOf) return oneOf;
      return resources.length === 1 ? resources[0]!.url : undefined;
    },

    getResourceServerInfo: async (ctx: KoaContextWithOIDC, indicator: string): Promise<ResourceServer> => {
      const resource = find(indicator);
      if (!resource) throw new errors.InvalidTarget(`resource ${JSON.stringify(indicator)} is not served by this authorization server`);
      applyDefaultScopes(ctx, resource);
      requireProofFor(ctx, resource.dpop, resource.url);
      return {
        scope: resource.scopes.join(' '),
        audience: resource.url,
        accessTokenTTL: resource.accessTokenTtl,
        ...(resource.accessTokenFormat === 'opaque'
          ? { accessTokenFormat: 'opaque' as const }
          : { accessTokenFormat: 'jwt' as const, jwt: { sign: { alg: 'ES256' as const } } }),
      };
    },

    /** Token requests may omit `resource` (Claude does): use the one that was authorized. */
    useGrantedResource: async () => {
      return true;
    },
  };
}
