/**
 * A stand-in for an issuer of signed JWTs, for tests: an HTTP server on 127.0.0.1 that
 * publishes its public key as a JWK set (at `/openid/v1/jwks`, where the Kubernetes API
 * server publishes its service-account token keys, and in OpenID discovery) and signs
 * whatever a test asks with jose. It stands in for the Kubernetes API server's
 * service-account token issuer, for an enterprise IdP that forges ID-JAGs, or for an issuer
 * nobody trusts.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

export interface AssertionIssuer {
  /** `http://127.0.0.1:<port>`: the `iss` of what it signs (unless a test says otherwise). */
  issuer: string;
  jwksUri: string;
  /** A JWT with these claims (iss, iat, exp in 10 minutes and a random jti unless given; `null` leaves a claim out). */
  sign(claims: Record<string, unknown>, header?: { typ?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startAssertionIssuer(): Promise<AssertionIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/openid/v1/jwks') {
      res.end(JSON.stringify(jwks));
    } else if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/openid/v1/jwks`,
    async sign(claims, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claimed: Record<string, unknown> = { iss: issuer, iat: now, exp: now + 600, jti: randomUUID(), ...claims };
      const payload = Object.fromEntries(Object.entries(claimed).filter(([, value]) => value !== null)) as JWTPayload;
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, ...(header.typ ? { typ: header.typ } : {}) }).sign(privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
