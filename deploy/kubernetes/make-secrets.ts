/**
 * Creates the files an overlay's secretGenerator reads, under <overlay>/secrets/ (ignored by
 * git, mode 0600): the auth server's client secret at the IdP, the resource server's client
 * secret at the auth server, and a new key set (SIGNING_KEYS). An existing file is never
 * replaced — the key set is rotated with `KEYS_FILE=<overlay>/secrets/signing-keys.json
 * pnpm admin keys rotate|promote|retire`.
 *
 *   node deploy/kubernetes/make-secrets.ts deploy/kubernetes/dev
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadKeys } from '../../auth-server/src/keys.ts';

export async function makeSecrets(overlay: string, log: (line: string) => void = console.log): Promise<void> {
  const dir = join(resolve(overlay), 'secrets');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const name of ['idp-client-secret', 'resource-server-client-secret']) {
    const file = join(dir, name);
    if (existsSync(file)) continue;
    // No trailing newline: the file's bytes are the Secret's value.
    await writeFile(file, randomBytes(24).toString('base64url'), { mode: 0o600, flag: 'wx' });
    log(`wrote ${file}`);
  }
  const keys = join(dir, 'signing-keys.json');
  if (!existsSync(keys)) {
    await loadKeys({ file: keys }, () => {});
    log(`wrote ${keys} (a signing key, a cookie key and an encryption key)`);
  }
}

if (import.meta.main) {
  const overlay = process.argv[2];
  if (!overlay) {
    console.error('usage: node deploy/kubernetes/make-secrets.ts <overlay directory>, e.g. deploy/kubernetes/dev');
    process.exit(2);
  }
  await makeSecrets(overlay);
  if (overlay.replace(/\/+$/, '').endsWith('production') && !existsSync(join(overlay, 'secrets', 'redis-password'))) {
    console.log(`write your Redis password to ${join(overlay, 'secrets', 'redis-password')} (no trailing newline) before kubectl apply -k`);
  }
}
