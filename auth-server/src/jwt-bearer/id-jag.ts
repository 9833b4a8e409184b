import { ID_JAG_TYP } from './grant-type.ts';
import { verifyAssertion } from './assertions.ts';
import type { EnterpriseIdp } from './trusted-issuers.ts';

/**
 * An Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant
 * §3; MCP enterprise-managed authorization, SEP-990): a user's grant, signed by the
 * enterprise IdP, for one client at this authorization server. Verified here: `typ`
 * `oauth-id-jag+jwt`, the signature against that IdP's keys, `iss`, `aud` = this server's
 * issuer, `exp` (and `nbf`, `iat`) with a small clock tolerance, and the presence of `sub`,
 * `client_id`, `jti`, `iat`. What the claims are then held against (the client, the resource,
 * the scope, the jti's single use) is the grant's (grant.ts).
 */

export interface IdJag {
  issuer: string;
  subject: string;
  clientId: string;
  /** The `resource` claim as a list (RFC 8707: one URI or several); empty when absent. */
  resources: string[];
  /** The `scope` claim; undefined when absent (the IdP did not restrict it). */
  scopes: string[] | undefined;
  jti: string;
  exp: number;
  email: string | undefined;
  emailVerified: boolean | undefined;
  name: string | undefined;
}

export async function verifyIdJag(assertion: string, idp: EnterpriseIdp, issuer: string): Promise<IdJag> {
  const claims = await verifyAssertion(assertion, {
    what: 'the ID-JAG',
    issuer: idp.issuer,
    // The draft's examples write the audience with a trailing slash; both name this issuer.
    audience: [issuer, `${issuer}/`],
    keys: idp.keys,
    typ: ID_JAG_TYP,
    requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
  });
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const resource = claims.resource;
  const resources = typeof resource === 'string' ? [resource] : Array.isArray(resource) ? resource.filter((value) => typeof value === 'string') : [];
  const scope = text(claims.scope);
  return {
    issuer: idp.issuer,
    subject: String(claims.sub),
    clientId: String(claims.client_id),
    resources,
    scopes: scope === undefined ? undefined : scope.split(' ').filter(Boolean),
    jti: String(claims.jti),
    exp: claims.exp!,
    email: text(claims.email),
    emailVerified: typeof claims.email_verified === 'boolean' ? claims.email_verified : undefined,
    name: text(claims.name),
  };
}
