import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { SigningJwk } from '../keys.ts';
import type { IssuedAccessToken, IssuedAccessTokens } from './issued-tokens.ts';

/**
 * The RFC 8693 subject token: an access token this server issued for a user, unexpired,
 * whose grant still exists (RFC 7009 revocation of the grant, refresh token reuse and grant
 * expiry all end it). A JWT is checked against this server's own signing keys and found by
 * its `jti` among the issued tokens (issued-tokens.ts); an opaque one is found as stored.
 */
export interface Subject {
  grantId: string;
  accountId: string;
  clientId: string;
  /** The resource(s) the token was issued for. */
  audiences: string[];
  /** Epoch seconds at which the MCP grant expires. */
  grantExpiresAt: number | undefined;
}

/** oidc-provider's InvalidGrant keeps its fixed description; this one says what is wrong. */
export const invalidGrant = (description: string) => new errors.CustomOIDCProviderError('invalid_grant', description);

const NOT_USABLE = 'subject_token is not an active access token issued by this server';

export function subjectTokenReader(provider: Provider, signingKeys: readonly SigningJwk[], issued: IssuedAccessTokens) {
  const keys = createLocalJWKSet({ keys: signingKeys.map(publicPart) });
  const algorithms = [...new Set(signingKeys.map((key) => key.alg))];

  async function find(token: string): Promise<IssuedAccessToken | undefined> {
    if (token.split('.').length !== 3) {
      const stored = await provider.AccessToken.find(token);
      if (!stored || stored.isExpired || !stored.accountId || !stored.grantId) return undefined;
      return { grantId: stored.grantId, accountId: stored.accountId, clientId: stored.clientId!, aud: (stored as unknown as { aud?: string | string[] }).aud };
    }
    let jti: string;
    try {
      decodeProtectedHeader(token);
      const { payload } = await jwtVerify(token, keys, { issuer: provider.issuer, typ: 'at+jwt', algorithms, requiredClaims: ['jti', 'exp'] });
      jti = String(payload.jti);
    } catch {
      return undefined; // not ours, altered, or expired
    }
    return issued.find(jti);
  }

  return async function readSubjectToken(token: string): Promise<Subject> {
    const found = await find(token);
    if (!found) throw invalidGrant(NOT_USABLE);
    const grant = await provider.Grant.find(found.grantId);
    if (!grant || grant.isExpired || grant.clientId !== found.clientId || grant.accountId !== found.accountId) {
      throw invalidGrant(NOT_USABLE);
    }
    const { aud } = found;
    return {
      grantId: found.grantId,
      accountId: found.accountId,
      clientId: found.clientId,
      audiences: aud === undefined ? [] : Array.isArray(aud) ? aud : [aud],
      grantExpiresAt: typeof grant.exp === 'number' ? grant.exp : undefined,
    };
  };
}

/** The verification half of a signing key. */
function publicPart({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, ...key }: SigningJwk): JWK {
  return key;
}
