/**
 * Key management for operators, in three stages with a rolling restart after each
 * (the README's "Signing key rotation" gives the timeline):
 *   node src/keys-cli.ts list            the key ids in the keys file, signing key first
 *   node src/keys-cli.ts rotate          adds a new key: published in the JWKS, not signing
 *   node src/keys-cli.ts promote         the newest key signs; the others keep verifying —
 *                                        once resource servers have it (their JWKS max age)
 *   node src/keys-cli.ts retire [keep]   keeps the first `keep` keys (default 1: the signing
 *                                        one) — once the longest token lifetime has passed
 * The file is KEYS_FILE (default: .data/keys.json beside this package).
 */
import { loadConfig } from './config.ts';
import { promote, readKeySet, retire, rotate, writeKeySet } from './keys.ts';

const [command = 'list', argument] = process.argv.slice(2);
const { keysFile } = loadConfig({ ...process.env, IDP_CLIENT_SECRET: process.env.IDP_CLIENT_SECRET ?? 'unused-by-keys-cli' });
const keys = await readKeySet(keysFile);
if (!keys) {
  console.error(`no key set at ${keysFile}: the auth server creates one on its first start`);
  process.exit(1);
}

switch (command) {
  case 'list':
    break;
  case 'rotate':
    await writeKeySet(keysFile, await rotate(keys));
    console.log('added a new signing key and a new encryption key, published but not used yet; restart every auth-server instance, wait for the resource servers\' JWKS_MAX_AGE_SECONDS, then run promote');
    break;
  case 'promote':
    try {
      await writeKeySet(keysFile, promote(keys));
    } catch (error) {
      console.error((error as Error).message);
      process.exit(2);
    }
    console.log('the newest keys sign and seal from the next start; restart every auth-server instance, and retire the old keys after the longest token lifetime');
    break;
  case 'retire':
    await writeKeySet(keysFile, retire(keys, Number(argument ?? 1)));
    console.log('retired older signing and encryption keys; restart every auth-server instance');
    break;
  default:
    console.error(`unknown command ${command}: use list, rotate, promote or retire [keep]`);
    process.exit(2);
}
for (const [index, key] of ((await readKeySet(keysFile))?.signingKeys ?? []).entries()) {
  console.log(`${index === 0 ? 'signs   ' : 'verifies'} ${key.kid} ${key.alg}`);
}
