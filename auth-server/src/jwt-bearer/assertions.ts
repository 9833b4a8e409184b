import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { errors } from 'oidc-provider';
import { invalidGrant } from '../token-exchange/subject-token.ts';

/**
 * What the ID-JAG and the workload paths share: reading an assertion before anyone vouches
 * for it (only to pick the issuer whose keys will verify it), verifying it, and saying in
 * words what was wrong. Every failure is an OAuth error (invalid_grant, or 503 when the
 * issuer's keys cannot be fetched): never a 500, and never the assertion in a message.
 */

/** Seconds of clock difference allowed on `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Asymmetric only: an HMAC assertion would need a secret shared with the issuer, which no issuer here has. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface Unverified {
  /** The `typ` header, lower-cased without an `application/` prefix (RFC 8725 §3.11). */
  typ: string | undefined;
  iss: string | undefined;
}

/** The header and issuer of an assertion, not yet verified. */
export function peek(assertion: string): Unverified {
  try {
    const header = decodeProtectedHeader(assertion);
    const payload = decodeJwt(assertion);
    return {
      typ: typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined,
      iss: typeof payload.iss === 'string' ? payload.iss : undefined,
    };
  } catch {
    throw invalidGrant('assertion is not a signed JWT (RFC 7523 §2.1)');
  }
}

/** A value from an assertion, safe to quote in an error description. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

export interface VerifyOptions {
  /** Names the assertion in messages: "the ID-JAG", "the workload token". */
  what: string;
  issuer: string;
  audience: string | string[];
  keys: JWTVerifyGetKey;
  typ?: string;
  requiredClaims: string[];
}

/** Signature against the issuer's keys, `iss`, `aud`, `exp`, `nbf`, `iat`, typ and the required claims. */
export async function verifyAssertion(assertion: string, options: VerifyOptions): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, options.keys, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: ALGORITHMS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: options.requiredClaims,
      ...(options.typ ? { typ: options.typ } : {}),
    }));
  } catch (error) {
    throw refusal(error, options);
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat === 'number' && payload.iat > now + CLOCK_TOLERANCE_SECONDS) throw invalidGrant(`${options.what} was issued in the future (iat)`);
  return payload;
}

function refusal(error: unknown, { what, issuer, audience }: VerifyOptions): Error {
  if (error instanceof joseErrors.JWTExpired) return invalidGrant(`${what} has expired (exp is in the past)`);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return invalidGrant(`${what} has no ${error.claim} claim`);
    if (error.claim === 'aud') return invalidGrant(`${what} is for another audience: its aud must be ${[audience].flat()[0]}`);
    if (error.claim === 'nbf') return invalidGrant(`${what} is not valid yet (nbf)`);
    if (error.claim === 'typ') return invalidGrant(`${what} has the wrong typ header`);
    return invalidGrant(`${what} has an invalid ${error.claim} claim`);
  }
  if (
    error instanceof joseErrors.JWSSignatureVerificationFailed ||
    error instanceof joseErrors.JWKSNoMatchingKey ||
    error instanceof joseErrors.JWKSMultipleMatchingKeys
  ) {
    return invalidGrant(`${what}'s signature does not verify with the keys ${issuer} publishes`);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return invalidGrant(`${what} is signed with an algorithm this server does not accept (asymmetric only: ${ALGORITHMS.join(', ')})`);
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return invalidGrant(`${what} is not a valid signed JWT`);
  // Timeout, unreachable, not a key set: the issuer's side, not the client's.
  return new IssuerKeysUnavailable(issuer, error);
}

/** 503 temporarily_unavailable, exposed to the client (oidc-provider hides unexposed errors as server_error). */
export class IssuerKeysUnavailable extends errors.OIDCProviderError {
  override error_description: string;
  readonly issuer: string;
  constructor(issuer: string, cause: unknown) {
    super(503, 'temporarily_unavailable', { cause });
    this.issuer = issuer;
    this.error_description = `the keys of ${issuer} cannot be fetched right now; try again shortly`;
    this.expose = true;
  }
}
