import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { randomBytes, randomUUID } from 'node:crypto';

/** A private signing key in JWK form, as oidc-provider's `jwks` option takes it. */
export type SigningJwk = JWK & { kid: string; alg: string; use: 'sig' };

/** Generates an ES256 signing key (P-256), the default alg of access and ID tokens. */
export async function generateSigningKey(): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

/** Cookie signing keys: configured ones, else random for this process (sessions end on restart). */
export function cookieKeys(configured: string[] | undefined): string[] {
  return configured?.length ? configured : [randomBytes(32).toString('base64url')];
}
