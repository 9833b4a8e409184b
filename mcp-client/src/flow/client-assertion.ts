/**
 * private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9) for a
 * pre-registered client that holds a key pair instead of a secret: `--client-key <file>`.
 *
 * The file holds the private key as a JWK (or a JWK Set with one private key) or as PEM —
 * PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`); Node's
 * crypto reads all three, jose's importPKCS8 only the first. The algorithm is the JWK's `alg`,
 * else follows from the key (EC P-256 → ES256, P-384 → ES384, P-521 → ES512, RSA → RS256,
 * Ed25519 → EdDSA), unless `--client-key-alg` names another the key can sign.
 *
 * Every token request carries a fresh assertion, signed by the SDK's createPrivateKeyJwtAuth:
 * iss = sub = client_id, aud = the authorization server's issuer identifier (the one its
 * validated metadata names: what this project's auth server requires, and one of the values
 * oidc-provider and the conformance suite accept), exp 60 s after iat, a new jti.
 *
 * The key never reaches the output, nor the store: the store keeps the file's path with the
 * client, so later runs (refresh, a new client_credentials token, revocation) sign again from
 * the same file. A key file other users can read draws a warning, as ssh gives.
 */
import { createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createPrivateKeyJwtAuth } from '@modelcontextprotocol/client';
import type { AddClientAuthentication, AuthorizationServerMetadata } from '@modelcontextprotocol/client';
import { calculateJwkThumbprint } from 'jose';
import type { JWK } from 'jose';
import { CliError } from '../errors.ts';
import type { StoredClient } from '../store.ts';
import type { Trace } from '../trace.ts';

/** How long an assertion is valid: one request's worth, with room for clock skew (this project's AS allows at most 300 s). */
export const CLIENT_ASSERTION_LIFETIME_SECONDS = 60;

/** The signing algorithms --client-key-alg takes (asymmetric only: an HMAC key would be client_secret_jwt). */
export const CLIENT_KEY_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519'] as const;

export interface ClientKey {
  /** Absolute path of the key file. */
  file: string;
  alg: string;
  /** The private key as a JWK, for the SDK's signer. Never printed. */
  privateJwk: JWK;
  /** RFC 7638 thumbprint of the public key: what the trace shows. */
  thumbprint: string;
  /** The file's permission bits when other users may read it (a warning), else undefined. */
  looseMode?: number;
}

const EC_ALGS: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

/** The algorithm a key signs with by default, or what is wrong with it. */
function defaultAlg(jwk: JWK): string | { problem: string } {
  if (jwk.kty === 'EC') return (jwk.crv && EC_ALGS[jwk.crv]) ?? { problem: `an EC key on curve ${jwk.crv ?? '?'} (P-256, P-384 and P-521 can sign JWTs)` };
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return jwk.crv === 'Ed25519' ? 'EdDSA' : { problem: `an ${jwk.crv ?? 'OKP'} key (of the OKP keys, only Ed25519 signs JWTs here)` };
  return { problem: `a key of type ${jwk.kty ?? '?'}` };
}

/** Whether `alg` can be signed with this key. */
function fits(alg: string, jwk: JWK): boolean {
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && EC_ALGS[jwk.crv ?? ''] === alg;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

function keyError(file: string, problem: string, hint: string, usage: boolean): CliError {
  return new CliError('client_key', `--client-key ${file}: ${problem}.`, { hint, exitCode: usage ? 2 : 1 });
}

const PEM_HINT = 'Pass the private key as PEM (PKCS#8 "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY") or as a JWK with its private members.';

/** The private key in the file's text, as a KeyObject, plus the members of a JWK worth keeping (alg, kid). */
function parseKey(text: string, file: string, usage: boolean): { key: KeyObject; alg?: string } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw keyError(file, 'not valid JSON (a JWK was expected)', PEM_HINT, usage);
    }
    let jwk = parsed as JWK & { keys?: unknown };
    if (Array.isArray(jwk.keys)) {
      const privateKeys = (jwk.keys as JWK[]).filter((k) => typeof k === 'object' && typeof k.d === 'string');
      if (privateKeys.length !== 1) {
        throw keyError(
          file,
          `a JWK Set with ${privateKeys.length} private keys (one is needed)`,
          'Put the one private key the client signs with in the file.',
          usage,
        );
      }
      jwk = privateKeys[0]!;
    }
    if (jwk.kty === 'oct') {
      throw keyError(
        file,
        'a symmetric key (kty "oct"): that is a shared secret, not a private key',
        'private_key_jwt needs an asymmetric key pair; for a client secret use --client-secret or MCP_CLIENT_SECRET.',
        usage,
      );
    }
    if (typeof jwk.d !== 'string') {
      throw keyError(file, 'a public key (the JWK has no "d")', 'Pass the private key; the authorization server holds the public one.', usage);
    }
    try {
      return { key: createPrivateKey({ key: jwk, format: 'jwk' }), ...(jwk.alg ? { alg: jwk.alg } : {}) };
    } catch {
      throw keyError(file, 'a JWK that is not a usable private key', PEM_HINT, usage);
    }
  }
  if (!trimmed.includes('-----BEGIN')) throw keyError(file, 'neither a JWK nor a PEM key', PEM_HINT, usage);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(trimmed)) {
    throw keyError(
      file,
      'an encrypted private key',
      'mcp-client does not ask for passphrases: decrypt it into a 0600 file, e.g. `openssl pkey -in key.pem -out client-key.pem`.',
      usage,
    );
  }
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(trimmed)) {
    throw keyError(
      file,
      'a PEM document without a private key (a public key or a certificate?)',
      'Pass the private key; the authorization server holds the public one.',
      usage,
    );
  }
  try {
    return { key: createPrivateKey({ key: trimmed, format: 'pem' }) };
  } catch (error) {
    throw keyError(file, `not a private key Node can read (${error instanceof Error ? error.message : String(error)})`, PEM_HINT, usage);
  }
}

/** Reads and checks a key file: the key, its algorithm, its thumbprint. Throws a CliError (exit 2 when `usage`). */
async function readClientKey(file: string, algOverride: string | undefined, usage: boolean): Promise<ClientKey> {
  let text: string;
  let mode: number;
  try {
    mode = (await stat(file)).mode;
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw keyError(
      file,
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'a directory, not a key file'
            : `cannot be read (${code ?? String(error)})`,
      'Pass the path of the private key file registered (by its public key) for --client-id.',
      usage,
    );
  }
  const { key, alg: jwkAlg } = parseKey(text, file, usage);
  if (key.type !== 'private') throw keyError(file, 'not a private key', PEM_HINT, usage);
  const type = key.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa' && type !== 'ed25519') {
    throw keyError(file, `a ${type ?? 'non-asymmetric'} key`, 'Use an EC (P-256, P-384, P-521), RSA or Ed25519 key.', usage);
  }
  const privateJwk = key.export({ format: 'jwk' }) as JWK;
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw keyError(
      file,
      `an RSA key of ${key.asymmetricKeyDetails?.modulusLength ?? '?'} bits`,
      'RSA keys for JWTs must have at least 2048 bits (RFC 7518 §3.3).',
      usage,
    );
  }
  const derived = defaultAlg(privateJwk);
  if (typeof derived !== 'string') throw keyError(file, derived.problem, 'Use an EC (P-256, P-384, P-521), RSA or Ed25519 key.', usage);
  const alg = algOverride ?? jwkAlg ?? derived;
  if (!fits(alg, privateJwk)) {
    throw keyError(
      file,
      `${algOverride ? '--client-key-alg' : 'its "alg"'} ${alg} does not fit the key (${privateJwk.kty}${privateJwk.crv ? ` ${privateJwk.crv}` : ''}, which signs ${derived})`,
      `Drop --client-key-alg to sign with ${derived}, or pass a key for ${alg}.`,
      usage,
    );
  }
  const thumbprint = await calculateJwkThumbprint(privateJwk, 'sha256');
  const loose = process.platform !== 'win32' && (mode & 0o077) !== 0;
  return { file, alg, privateJwk: { ...privateJwk, alg }, thumbprint, ...(loose ? { looseMode: mode & 0o777 } : {}) };
}

/** One read per file and algorithm per run (a login can sign several requests). */
const loaded = new Map<string, Promise<ClientKey>>();

/**
 * The client key in `file`, read once per run; the `client_key` step says which key (by
 * thumbprint) and warns when other users can read the file. `usage`: errors exit 2 (the flag
 * was given now), else 1 (a path stored by an earlier run).
 */
export function loadClientKey(file: string, options: { alg?: string | undefined; trace: Trace; usage?: boolean }): Promise<ClientKey> {
  const cacheKey = `${file}\u0000${options.alg ?? ''}`;
  let key = loaded.get(cacheKey);
  if (!key) {
    key = readClientKey(file, options.alg, options.usage ?? false).then((read) => {
      const octal = read.looseMode?.toString(8).padStart(4, '0');
      options.trace.step(
        'client_key',
        { file: read.file, alg: read.alg, jkt: read.thumbprint, ...(octal ? { warning: 'readable_by_others', mode: octal } : {}) },
        octal
          ? `WARNING: ${read.file} is readable by other users (mode ${octal}); a private key must be private: chmod 600 ${read.file}`
          : `${read.alg} key, thumbprint ${read.thumbprint} (${read.file})`,
        !octal,
      );
      return read;
    });
    loaded.set(cacheKey, key);
    key.catch(() => loaded.delete(cacheKey));
  }
  return key;
}

/**
 * The private_key_jwt authentication for token requests of `client` at `issuer`, or undefined
 * when the client authenticates otherwise (secret, or none). Traced as the
 * `client_authentication` step: method, algorithm, key thumbprint, audience.
 */
export async function clientAuthentication(
  issuer: string,
  client: StoredClient | undefined,
  trace: Trace,
  metadata?: AuthorizationServerMetadata,
): Promise<AddClientAuthentication | undefined> {
  if (!client?.client_key_file) return undefined;
  const key = await loadClientKey(client.client_key_file, { alg: client.client_key_alg, trace });
  const methods = metadata?.token_endpoint_auth_methods_supported;
  const algs = metadata?.token_endpoint_auth_signing_alg_values_supported;
  const unadvertised = [
    ...(methods && !methods.includes('private_key_jwt') ? [`token_endpoint_auth_methods_supported is ${JSON.stringify(methods)}`] : []),
    ...(algs && !algs.includes(key.alg) ? [`token_endpoint_auth_signing_alg_values_supported is ${JSON.stringify(algs)}`] : []),
  ];
  trace.step(
    'client_authentication',
    {
      method: 'private_key_jwt',
      clientId: client.client_id,
      alg: key.alg,
      jkt: key.thumbprint,
      audience: issuer,
      lifetimeSeconds: CLIENT_ASSERTION_LIFETIME_SECONDS,
      ...(unadvertised.length ? { unadvertised } : {}),
    },
    `private_key_jwt (${key.alg}, key thumbprint ${key.thumbprint}): a new assertion per request, aud ${issuer}, valid ${CLIENT_ASSERTION_LIFETIME_SECONDS} s` +
      (unadvertised.length ? `; the AS may refuse it: ${unadvertised.join(', ')}` : ''),
    unadvertised.length === 0,
  );
  const sign = createPrivateKeyJwtAuth({
    issuer: client.client_id,
    subject: client.client_id,
    privateKey: key.privateJwk,
    alg: key.alg,
    audience: issuer,
    lifetimeSeconds: CLIENT_ASSERTION_LIFETIME_SECONDS,
  });
  return async (headers, params, url, asMetadata) => {
    // RFC 7521 §4.2: client_id is optional beside an assertion; sent, it names the client for servers that look it up first.
    params.set('client_id', client.client_id);
    await sign(headers, params, url, asMetadata);
  };
}
