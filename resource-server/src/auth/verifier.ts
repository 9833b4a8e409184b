import type { AuthInfo } from '@modelcontextprotocol/server';

/**
 * What every token verifier provides, so the local JWT verifier (the default) and the
 * RFC 7662 introspection verifier are interchangeable behind the bearer gate.
 */
export interface TokenVerifier {
  /** Resolves to the caller's AuthInfo (with `extra.caller`), or throws one of the errors below. */
  verify(token: string): Promise<AuthInfo>;
  /** For /readyz: can tokens be verified right now (keys cached or the AS reachable)? */
  readiness(): Promise<Readiness>;
}

export interface Readiness {
  ok: boolean;
  detail: string;
}

/** The token is unusable: answer 401 `invalid_token`. The message is safe to show. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** The AS (metadata, JWKS or introspection) cannot be reached and nothing is cached: answer 503. */
export class AuthServerUnavailableError extends Error {
  override name = 'AuthServerUnavailableError';
}

/** What the tools see of the caller, from the verified token only. */
export interface Caller {
  subject: string;
  email: string | undefined;
  name: string | undefined;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  /** The auth server's grant the token was issued under, when it says (revoked-grants.ts). */
  grantId: string | undefined;
  /** RFC 9449 `cnf.jkt`: the thumbprint of the DPoP key the token is bound to, when it is. */
  jkt?: string | undefined;
}

export function callerOf(authInfo: AuthInfo | undefined): Caller {
  const caller = authInfo?.extra?.caller as Caller | undefined;
  if (!caller) throw new Error('MCP request reached the server without a verified caller');
  return caller;
}

/** Claims shared by RFC 9068 JWTs and RFC 7662 introspection responses → Caller. */
export function callerFromClaims(claims: Record<string, unknown>): Caller {
  const scope = typeof claims.scope === 'string' ? claims.scope : '';
  return {
    subject: String(claims.sub),
    email: typeof claims.email === 'string' ? claims.email : undefined,
    name: typeof claims.name === 'string' ? claims.name : undefined,
    clientId: String(claims.client_id),
    scopes: scope.split(' ').filter(Boolean),
    expiresAt: Number(claims.exp),
    grantId: typeof claims.grant_id === 'string' ? claims.grant_id : undefined,
    jkt: typeof (claims.cnf as { jkt?: unknown } | undefined)?.jkt === 'string' ? (claims.cnf as { jkt: string }).jkt : undefined,
  };
}

export function authInfoFor(token: string, caller: Caller, resource: string): AuthInfo {
  return {
    token,
    clientId: caller.clientId,
    scopes: caller.scopes,
    expiresAt: caller.expiresAt,
    resource: new URL(resource),
    extra: { caller },
  };
}
