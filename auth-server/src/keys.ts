import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError } from './config.ts';
import { generateSealingKey, type SealingKey } from './upstream-tokens/sealing.ts';

/**
 * Signing keys and cookie keys: loaded from the environment or a keys file, generated and
 * persisted once when absent — never per start, or every token would die on restart.
 *
 * Rotation (`pnpm admin keys`, src/admin/keys-commands.ts) is staged, so that no valid token is ever refused: `rotate`
 * adds a new key at the end — published in the JWKS, not signing — and resource servers
 * pick it up within their JWKS max age; `promote` then makes it sign (first in the set); the
 * previous key keeps verifying until `retire` drops it, after the longest token lifetime.
 * Encryption keys (for the upstream tokens kept at rest) follow the same stages, so every
 * instance can open what another seals: the first seals, all open; records move to the
 * sealing key as they are read.
 *
 * Creating or upgrading the key file is exclusive across processes (a lock file beside it):
 * two instances starting together on an empty KEYS_FILE end up with the same keys.
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
    throw new ConfigError(`${source} is not valid JSON`);
  }
  const parsed = keySetSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(`${source} is not a valid key set: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  // Every key must be usable: a broken one fails at start-up, not at the first token.
  for (const key of parsed.data.signingKeys) await importJWK(key, key.alg);
  return {
    signingKeys: parsed.data.signingKeys.map((key) => ({ ...key, use: 'sig' })),
    cookieKeys: parsed.data.cookieKeys,
    encryptionKeys: parsed.data.encryptionKeys ?? [],
  };
}

export async function readKeySet(file: string): Promise<KeySet | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError(`KEYS_FILE: cannot read ${file} (${code}); fix its path or permissions — it is never overwritten`);
  }
  return parseKeySet(text, file);
}

/** Written whole and atomically, readable by the owner only; never without a signing key. */
export async function writeKeySet(file: string, keys: KeySet): Promise<void> {
  if (keys.signingKeys.length === 0 || keys.cookieKeys.length === 0) throw new Error('refusing to write a key set without a signing key and a cookie key');
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
      log(
        'SIGNING_KEYS has no encryptionKeys: upstream tokens are sealed with a key of this process only, unreadable after a restart and by other instances; add one (see the README)',
      );
    }
  } else {
    keys = await exclusively(source.file, async () => {
      // Read inside the lock: another instance may have just written the set.
      const stored = await readKeySet(source.file);
      if (stored) {
        if (stored.encryptionKeys.length === 0) {
          stored.encryptionKeys = [generateSealingKey()];
          await writeKeySet(source.file, stored);
          log(`added an encryption key (for upstream tokens at rest) to ${source.file}`);
        }
        return stored;
      }
      const generated = { signingKeys: [await generateSigningKey()], cookieKeys: [generateCookieKey()], encryptionKeys: [generateSealingKey()] };
      await writeKeySet(source.file, generated);
      log(`generated a signing key, a cookie key and an encryption key and saved them to ${source.file} (mode 0600); keep this file across restarts`);
      return generated;
    });
  }
  return source.cookieKeys?.length ? { ...keys, cookieKeys: source.cookieKeys } : keys;
}

/** Stage 1: a new signing key and a new encryption key at the end — published and loaded, not yet used. */
export async function rotate(keys: KeySet): Promise<KeySet> {
  return { ...keys, signingKeys: [...keys.signingKeys, await generateSigningKey()], encryptionKeys: [...keys.encryptionKeys, generateSealingKey()] };
}

/** Stage 2: the newest keys (the last ones) sign and seal; the previous ones keep verifying and opening. */
export function promote(keys: KeySet): KeySet {
  if (keys.signingKeys.length < 2) throw new Error('there is no newer key to promote: run rotate first');
  const last = <T>(list: T[]) => (list.length < 2 ? list : [list.at(-1)!, ...list.slice(0, -1)]);
  return { ...keys, signingKeys: last(keys.signingKeys), encryptionKeys: last(keys.encryptionKeys) };
}

/** Stage 3: keeps the first `keep` signing and encryption keys (the ones in use first). */
export function retire(keys: KeySet, keep: number): KeySet {
  if (!Number.isInteger(keep) || keep < 1) throw new Error('at least one signing key must remain');
  return { ...keys, signingKeys: keys.signingKeys.slice(0, keep), encryptionKeys: keys.encryptionKeys.slice(0, keep) };
}

/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 30_000;

/** Runs `task` holding `<file>.lock`, created exclusively (O_EXCL): one process at a time. */
async function exclusively<T>(file: string, task: () => Promise<T>): Promise<T> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age > STALE_LOCK_MS) await unlink(lock).catch(() => {});
      // eslint-disable-next-line preserve-caught-error -- the EEXIST is the expected answer, not the cause: another process holds the lock
      else if (attempt > 400) throw new Error(`${lock} is held by another process; remove it if no auth server is starting`);
      else await sleep(25);
    }
  }
  try {
    return await task();
  } finally {
    await unlink(lock).catch(() => {});
  }
}
