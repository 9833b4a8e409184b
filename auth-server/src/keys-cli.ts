/**
 * Key management for operators:
 *   node src/keys-cli.ts list            the key ids in the keys file, signing key first
 *   node src/keys-cli.ts rotate          a new signing key signs after the next restart;
 *                                        the old ones keep verifying
 *   node src/keys-cli.ts retire [keep]   keep only the newest `keep` keys (default 1) —
 *                                        run it once the longest token lifetime has passed
 * The file is KEYS_FILE (default: .data/keys.json beside this package).
 */
import { loadConfig } from './config.ts';
import { readKeySet, retire, rotate, writeKeySet } from './keys.ts';

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
    console.log('added a new signing key and a new encryption key; restart every auth-server instance for them to be used');
    break;
  case 'retire':
    await writeKeySet(keysFile, retire(keys, Number(argument ?? 1)));
    console.log('retired older signing and encryption keys; restart every auth-server instance');
    break;
  default:
    console.error(`unknown command ${command}: use list, rotate or retire [keep]`);
    process.exit(2);
}
for (const [index, key] of ((await readKeySet(keysFile))?.signingKeys ?? []).entries()) {
  console.log(`${index === 0 ? 'signs   ' : 'verifies'} ${key.kid} ${key.alg}`);
}
