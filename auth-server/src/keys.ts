import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { generateSealingKey, type SealingKey } from './upstream-tokens/sealing.ts';

/**
 * Signing keys and cookie keys: loaded from the environment or a keys file, generated and
 * persisted once when absent — never per start, or every token would die on restart.
 *
 * Rotation (src/keys-cli.ts): `rotate` puts a new signing key first (it signs from the next
 * start); older keys stay in the JWKS and keep verifying until `retire` drops them, after
 * the longest token lifetime has passed. Encryption keys (for the upstream tokens kept at
 * rest) rotate with them: the first seals, all open; records move to the newest key as read.
 */

/** A private signing key in JWK form, as oidc-provider's `jwks` option takes it. */
export type SigningJwk = JWK & { kid: string; alg: string; use: 'sig' };

const keySetSchema = z.object({
  signingKeys: z
    .array(z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string(), d: z.string({ error: 'must be a private key (d)' }) }))
    .min(1, 'needs at least one signing key'),
  cookieKeys: z.array(z.string().min(32, 'cookie keys need at least 32 characters')).min(1),
  /** AES-256-GCM keys (base64url `k`); absent in key sets from before upstream tokens were kept. */
  encryptionKeys: z.array(z.object({ kid: z.string().min(1), k: z.string().regex(/^[\w-]{43}$/, 'must be 32 bytes in base64url') })).optional(),
});

export type KeySet = { signingKeys: SigningJwk[]; cookieKeys: string[]; encryptionKeys: SealingKey[] };

export async function generateSigningKey(): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

export function generateCookieKey(): string {
  return randomBytes(32).toString('base64url');
}

export async function parseKeySet(text: string, source: string): Promise<KeySet> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not valid JSON`);
  }
  const parsed = keySetSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${source} is not a valid key set: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  // Every key must be usable: a broken one fails at start-up, not at the first token.
  for (const key of parsed.data.signingKeys) await importJWK(key, key.alg);
  return {
    signingKeys: parsed.data.signingKeys.map((key) => ({ ...key, use: 'sig' }) as SigningJwk),
    cookieKeys: parsed.data.cookieKeys,
    encryptionKeys: parsed.data.encryptionKeys ?? [],
  };
}

export async function readKeySet(file: string): Promise<KeySet | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseKeySet(text, file);
}

/** Written whole and atomically, readable by the owner only. */
export async function writeKeySet(file: string, keys: KeySet): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

export interface KeySource {
  /** JSON key set from the environment (SIGNING_KEYS); wins over the file. */
  fromEnv?: string | undefined;
  file: string;
  /** Cookie keys from COOKIE_KEYS; win over the key set's. */
  cookieKeys?: string[] | undefined;
}

export async function loadKeys(source: KeySource, log: (message: string) => void): Promise<KeySet> {
  let keys: KeySet;
  if (source.fromEnv) {
    keys = await parseKeySet(source.fromEnv, 'SIGNING_KEYS');
    if (keys.encryptionKeys.length === 0) {
      keys.encryptionKeys = [generateSealingKey()];
      log('SIGNING_KEYS has no encryptionKeys: upstream tokens are sealed with a key of this process only, unreadable after a restart and by other instances; add one (see the README)');
    }
  } else {
    const stored = await readKeySet(source.file);
    if (stored) {
      keys = stored;
      if (keys.encryptionKeys.length === 0) {
        keys.encryptionKeys = [generateSealingKey()];
        await writeKeySet(source.file, keys);
        log(`added an encryption key (for upstream tokens at rest) to ${source.file}`);
      }
    } else {
      keys = { signingKeys: [await generateSigningKey()], cookieKeys: [generateCookieKey()], encryptionKeys: [generateSealingKey()] };
      await writeKeySet(source.file, keys);
      log(`generated a signing key, a cookie key and an encryption key and saved them to ${source.file} (mode 0600); keep this file across restarts`);
    }
  }
  return source.cookieKeys?.length ? { ...keys, cookieKeys: source.cookieKeys } : keys;
}

/** A new signing key and a new encryption key first; existing keys kept for verification and decryption. */
export async function rotate(keys: KeySet): Promise<KeySet> {
  return { ...keys, signingKeys: [await generateSigningKey(), ...keys.signingKeys], encryptionKeys: [generateSealingKey(), ...keys.encryptionKeys] };
}

/** Keeps the newest `keep` signing and encryption keys. */
export function retire(keys: KeySet, keep: number): KeySet {
  if (keep < 1) throw new Error('at least one signing key must remain');
  return { ...keys, signingKeys: keys.signingKeys.slice(0, keep), encryptionKeys: keys.encryptionKeys.slice(0, keep) };
}
