/**
 * A stand-in authorization server for resource-server tests that the real auth server
 * cannot serve: it signs whatever token a test asks for (forged kids, wrong keys, expired,
 * other audiences), rotates its key on demand, can go down and come back on the same
 * port, and counts the requests made to its JWKS. It serves RFC 8414 metadata, a JWKS and
 * RFC 7662 introspection of the tokens it signed (client `resource-server`, secret
 * INTROSPECTION_SECRET, client_secret_basic) — no authorization flow.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import { freePort } from './stack.ts';

export interface SigningKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
}

export async function newSigningKey(kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

export const INTROSPECTION_CLIENT = { id: 'resource-server', secret: 'stand-in-introspection-secret' };

export interface SignOptions {
  /** Defaults to the current key. */
  key?: SigningKey;
  /** Overrides the header's kid (e.g. one the JWKS does not have). */
  kid?: string;
  typ?: string;
}

export class StandInAuthorizationServer {
  readonly issuer: string;
  readonly #port: number;
  #server: Server | undefined;
  #keys: SigningKey[];
  /** Requests made to the JWKS endpoint since start. */
  jwksRequests = 0;
  metadataRequests = 0;
  introspectionRequests = 0;
  /** While true, the JWKS endpoint answers 503 (the request is still counted). */
  failing = false;
  readonly #revoked = new Set<string>();

  /** Introspection answers `active: false` for this token from now on. */
  revoke(token: string) {
    this.#revoked.add(token);
  }

  private constructor(port: number, key: SigningKey) {
    this.#port = port;
    this.issuer = `http://127.0.0.1:${port}`;
    this.#keys = [key];
  }

  static async start(): Promise<StandInAuthorizationServer> {
    const server = new StandInAuthorizationServer(await freePort(), await newSigningKey());
    await server.up();
    return server;
  }

  get currentKey(): SigningKey {
    return this.#keys[0]!;
  }

  /** Replaces the signing key; the old one leaves the JWKS at once. Returns the new key. */
  async rotate(): Promise<SigningKey> {
    this.#keys = [await newSigningKey()];
    return this.#keys[0]!;
  }

  /** Signs an access token; claims default to a valid one for `audience` (pass undefined to drop one). */
  async sign(audience: string, claims: JWTPayload = {}, options: SignOptions = {}): Promise<string> {
    const key = options.key ?? this.currentKey;
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: this.issuer,
      aud: audience,
      sub: 'stand-in-user',
      client_id: 'stand-in-client',
      scope: 'mcp:tools mcp:resources mcp:prompts',
      iat: now,
      exp: now + 300,
      jti: randomUUID(),
      ...claims,
    };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: options.typ ?? 'at+jwt', kid: options.kid ?? key.kid }).sign(key.privateKey);
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', this.issuer).pathname;
      if (path === '/.well-known/oauth-authorization-server') {
        this.metadataRequests++;
        return json(response, {
          issuer: this.issuer,
          jwks_uri: `${this.issuer}/jwks`,
          introspection_endpoint: `${this.issuer}/introspect`,
          id_token_signing_alg_values_supported: ['ES256'],
        });
      }
      if (path === '/introspect' && request.method === 'POST') {
        this.introspectionRequests++;
        void this.#introspect(request).then((answer) => (answer ? json(response, answer) : response.writeHead(401).end()));
        return;
      }
      if (path === '/jwks') {
        this.jwksRequests++;
        if (this.failing) return void response.writeHead(503).end();
        return json(response, { keys: this.#keys.map((key) => key.publicJwk) });
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#server = server;
  }

  async #introspect(request: import('node:http').IncomingMessage): Promise<Record<string, unknown> | undefined> {
    const expected = `Basic ${Buffer.from(`${INTROSPECTION_CLIENT.id}:${INTROSPECTION_CLIENT.secret}`).toString('base64')}`;
    if (request.headers.authorization !== expected) return undefined;
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const token = new URLSearchParams(body).get('token') ?? '';
    if (this.#revoked.has(token)) return { active: false };
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: this.#keys.map((key) => key.publicJwk) }), { issuer: this.issuer });
      return { active: true, token_type: 'Bearer', ...payload };
    } catch {
      return { active: false };
    }
  }

  /** Stops listening: connections are refused until up() is called again. */
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function json(response: import('node:http').ServerResponse, body: unknown) {
  response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
