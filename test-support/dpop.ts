/**
 * The client side of DPoP (RFC 9449) for tests: a key pair, proofs for the token endpoint and
 * for resource requests (each with a fresh jti; any claim or header can be overridden or
 * dropped to make a malformed one), token requests with a proof, and the authorization code
 * flow of oauth-flow.ts with the code exchanged under a proof. All JWS work through jose.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { authorizeClient, registerClient, type DemoUser } from './oauth-flow.ts';

export interface ProofOptions {
  htm: string;
  htu: string;
  /** The access token the proof goes with: its hash becomes `ath`. */
  accessToken?: string;
  nonce?: string;
  /** Epoch seconds (default: now). */
  iat?: number;
  /** Claims to add or override; undefined drops one (e.g. `{ ath: undefined }`). */
  claims?: Record<string, unknown>;
  /** Header parameters to add or override; undefined drops one. */
  header?: Record<string, unknown>;
}

export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class DpopKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly alg: string;
  /** RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to this key. */
  readonly thumbprint: string;

  private constructor(privateKey: CryptoKey, publicJwk: JWK, alg: string, thumbprint: string) {
    this.privateKey = privateKey;
    this.publicJwk = publicJwk;
    this.alg = alg;
    this.thumbprint = thumbprint;
  }

  static async generate(alg: 'ES256' | 'EdDSA' | 'Ed25519' | 'PS256' | 'RS256' = 'ES256'): Promise<DpopKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    return new DpopKey(privateKey, publicJwk, alg, await calculateJwkThumbprint(publicJwk));
  }

  /** The private key as a JWK (to build a proof that leaks it). */
  async privateJwk(): Promise<JWK> {
    return exportJWK(this.privateKey);
  }

  async proof(options: ProofOptions): Promise<string> {
    const payload: JWTPayload = {
      jti: randomUUID(),
      htm: options.htm,
      htu: options.htu,
      iat: options.iat ?? Math.floor(Date.now() / 1000),
      ...(options.accessToken ? { ath: accessTokenHash(options.accessToken) } : {}),
      ...(options.nonce ? { nonce: options.nonce } : {}),
      ...options.claims,
    };
    for (const [name, value] of Object.entries(options.claims ?? {})) if (value === undefined) delete payload[name];
    const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: this.alg, jwk: this.publicJwk, ...options.header };
    for (const [name, value] of Object.entries(options.header ?? {})) if (value === undefined) delete header[name];
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(this.privateKey);
  }
}

export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POST /token with a DPoP proof for it (none when `key` is undefined); `nonce` as the AS gave it. */
export async function dpopTokenRequest(
  issuer: string,
  params: Record<string, string | undefined>,
  key: DpopKey | undefined,
  options: { nonce?: string; headers?: Record<string, string> } = {},
): Promise<TokenResponse> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) body.set(name, value);
  const url = `${issuer}/token`;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
  if (key) headers.dpop = await key.proof({ htm: 'POST', htu: url, ...(options.nonce ? { nonce: options.nonce } : {}) });
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

/** Registration, browser leg and a code exchange under a DPoP proof of `key` (none: a Bearer token). */
export async function obtainDpopAccessToken(options: {
  issuer: string;
  resource: string;
  user: DemoUser;
  key: DpopKey | undefined;
  scope?: string;
  nonce?: string;
}) {
  const { body: client } = await registerClient(options.issuer);
  const redirectUri = client.redirect_uris[0]!;
  const { callback, verifier } = await authorizeClient({
    issuer: options.issuer,
    clientId: client.client_id,
    redirectUri,
    user: options.user,
    params: { scope: options.scope ?? 'mcp:tools mcp:resources mcp:prompts', resource: options.resource, state: randomBytes(8).toString('hex') },
  });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in the authorization response: ${callback.searchParams.get('error')}`);
  const response = await dpopTokenRequest(
    options.issuer,
    { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: client.client_id, resource: options.resource },
    options.key,
    options.nonce ? { nonce: options.nonce } : {},
  );
  return { clientId: client.client_id, response };
}
