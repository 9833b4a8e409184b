import { createPublicKey } from 'node:crypto';

/**
 * The public keys a private_key_jwt client registers (`jwks`): they verify its assertions,
 * so only public signing keys belong there. A private key in CLIENTS_FILE would be a
 * credential copied into the server's configuration — refused at start-up rather than
 * quietly ignored (oidc-provider itself would refuse it only at the client's first request).
 */

/** Members only a private or symmetric JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2; AKP `priv`). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

const PUBLIC_KEY_TYPES = new Set(['EC', 'RSA', 'OKP']);

/** What is wrong with `jwk` as a client's public signing key; undefined when nothing is. Never quotes key material. */
export function publicJwkProblem(jwk: Record<string, unknown>): string | undefined {
  const secret = PRIVATE_MEMBERS.filter((member) => member in jwk);
  if (secret.length) return `holds private key material (${secret.join(', ')}): list only the public key; the private key stays with the client`;
  if (typeof jwk.kty !== 'string' || !PUBLIC_KEY_TYPES.has(jwk.kty)) return 'kty must be EC, RSA or OKP (an asymmetric public key)';
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'use must be "sig" (or absent): these keys verify signatures';
  try {
    createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return `is not a valid ${jwk.kty} public key`;
  }
  return undefined;
}
