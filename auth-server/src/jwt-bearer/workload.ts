import { invalidGrant } from '../token-exchange/subject-token.ts';
import { quote, verifyAssertion } from './assertions.ts';
import type { WorkloadIssuer } from './trusted-issuers.ts';

/**
 * A workload's own JWT, issued by its platform (a Kubernetes service-account token, a SPIFFE
 * JWT-SVID, a cloud workload token; MCP workload identity federation, SEP-1933): the
 * signature against the configured issuer's keys, `iss`, `aud` = the configured audience,
 * `exp` (and `nbf`, `iat`), and a `sub` the mapping lists (or any, with `*`). A `jti` is
 * optional — Kubernetes issues one only with its ServiceAccountTokenJTI feature — and single
 * use when present (grant.ts); without one the token is bounded by its `exp` alone.
 */

export interface WorkloadAssertion {
  issuer: string;
  subject: string;
  jti: string | undefined;
  exp: number;
}

export async function verifyWorkloadToken(assertion: string, mapping: WorkloadIssuer): Promise<WorkloadAssertion> {
  const claims = await verifyAssertion(assertion, {
    what: 'the workload token',
    issuer: mapping.issuer,
    audience: mapping.audience,
    keys: mapping.keys,
    requiredClaims: ['sub', 'exp'],
  });
  const subject = String(claims.sub);
  if (mapping.subjects !== '*' && !mapping.subjects.includes(subject)) {
    throw invalidGrant(`the workload token's subject ${quote(subject)} is not one ${mapping.issuer} may get tokens for as client ${mapping.clientId}`);
  }
  return { issuer: mapping.issuer, subject, jti: typeof claims.jti === 'string' && claims.jti !== '' ? claims.jti : undefined, exp: claims.exp! };
}
