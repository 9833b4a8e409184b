import { promote, readKeySet, retire, rotate, writeKeySet } from '../keys.ts';
import { AdminError } from './operations.ts';

/**
 * `pnpm admin keys …`: the staged rotation of the key set file (keys.ts; the README's
 * "Signing key rotation" gives the timeline). Arguments are checked before anything is
 * written: no command writes a key set without a signing key.
 */
export async function keysCommand(file: string, action: string, argument: string | undefined, output: { print(human: string, data: unknown): void }) {
  const keys = await readKeySet(file);
  if (!keys) throw new AdminError(`no key set at ${file}: the auth server creates one on its first start`);
  let message = '';
  switch (action) {
    case 'list':
      break;
    case 'rotate':
      await writeKeySet(file, await rotate(keys));
      message =
        "added a new signing key and a new encryption key, published but not used yet; restart every auth-server instance, wait for the resource servers' JWKS_MAX_AGE_SECONDS, then run `keys promote`";
      break;
    case 'promote':
      if (keys.signingKeys.length < 2) throw new AdminError('there is no newer key to promote: run `keys rotate` first');
      await writeKeySet(file, promote(keys));
      message = 'the newest keys sign and seal from the next start; restart every auth-server instance, and run `keys retire` after the longest token lifetime';
      break;
    case 'retire': {
      const keep = argument === undefined ? 1 : Number(argument);
      if (!Number.isInteger(keep) || keep < 1)
        throw new AdminError(`keys retire [keep]: keep must be a whole number of keys, at least 1 (got ${JSON.stringify(argument)})`);
      await writeKeySet(file, retire(keys, keep));
      message = 'retired older signing and encryption keys; restart every auth-server instance';
      break;
    }
    default:
      throw new AdminError(`unknown keys command ${action}: use list, rotate, promote or retire [keep]`);
  }
  const current = (await readKeySet(file))!;
  const lines = current.signingKeys.map((key, index) => `${index === 0 ? 'signs   ' : 'verifies'} ${key.kid} ${key.alg}`);
  output.print([message, ...lines].filter(Boolean).join('\n'), {
    file,
    signingKeys: current.signingKeys.map((key, index) => ({ kid: key.kid, alg: key.alg, signs: index === 0 })),
    encryptionKeys: current.encryptionKeys.map((key) => key.kid),
  });
}
