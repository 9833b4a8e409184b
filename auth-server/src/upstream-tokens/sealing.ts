import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';

/**
 * AES-256-GCM for what the auth server keeps of the IdP's tokens. A key ring like the signing
 * keys: the first key seals, every key opens, so a new key can be put first (`pnpm admin keys`
 * `rotate`) while records sealed with the older ones stay readable. The record's identity is
 * the additional authenticated data: a sealed value copied under another grant does not open.
 *
 *   v1.<kid>.<iv>.<ciphertext + tag>   (base64url parts)
 */

/** A 256-bit key, `k` in base64url (the JWK `oct` convention). */
export interface SealingKey {
  kid: string;
  k: string;
}

const VERSION = 'v1';

export function generateSealingKey(): SealingKey {
  return { kid: randomUUID(), k: randomBytes(32).toString('base64url') };
}

export class Sealer {
  readonly #keys: Map<string, Buffer>;
  readonly #current: string;

  constructor(keys: readonly SealingKey[]) {
    if (keys.length === 0) throw new Error('the key set has no encryption key');
    this.#keys = new Map(
      keys.map((key) => {
        const raw = Buffer.from(key.k, 'base64url');
        if (raw.length !== 32) throw new Error(`encryption key ${key.kid} is not 256 bits`);
        return [key.kid, raw];
      }),
    );
    this.#current = keys[0]!.kid;
  }

  seal(value: unknown, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#current)!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, this.#current, iv.toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  /** The value, or undefined when the key is unknown (retired), the context differs or the data was altered. */
  open(sealed: unknown, context: string): unknown {
    if (typeof sealed !== 'string') return undefined;
    const [version, kid, iv, data] = sealed.split('.');
    const key = kid ? this.#keys.get(kid) : undefined;
    if (version !== VERSION || !key || !iv || !data) return undefined;
    try {
      const bytes = Buffer.from(data, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const plaintext = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
      return JSON.parse(plaintext.toString('utf8'));
    } catch {
      return undefined;
    }
  }

  /** Sealed with an older key: worth sealing again with the current one. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.#current;
  }
}
