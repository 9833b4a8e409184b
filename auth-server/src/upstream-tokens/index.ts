import type { Storage } from '../adapters/index.ts';
import type { UpstreamIdp } from '../upstream.ts';
import { UpstreamAccess } from './access.ts';
import { refreshAtIdp } from './idp-refresh.ts';
import { InProcessLock, RedisLock } from './refresh-lock.ts';
import { Sealer, type SealingKey } from './sealing.ts';
import { UpstreamTokenVault } from './vault.ts';

/** The vault and the refreshing reader over it, on whatever store the auth server uses. */
export interface UpstreamTokens {
  /** Some client may exchange tokens (CLIENTS_FILE `token_exchange`): otherwise nothing is kept and logins are not changed. */
  enabled: boolean;
  vault: UpstreamTokenVault;
  access: UpstreamAccess;
  /** For the upstream callback: keeps the IdP's answer when enabled. */
  keepLogin: UpstreamTokenVault['keepLogin'];
}

export function createUpstreamTokens(options: {
  storage: Storage;
  keys: readonly SealingKey[];
  upstream: UpstreamIdp;
  grantTtl: number;
  enabled: boolean;
}): UpstreamTokens {
  const { storage, keys, upstream, grantTtl, enabled } = options;
  const vault = new UpstreamTokenVault(storage.adapter, new Sealer(keys), grantTtl);
  // Across instances when they share Redis; SQLite and memory serve one instance.
  const lock = storage.redis ? new RedisLock(storage.redis) : new InProcessLock();
  return {
    enabled,
    vault,
    access: new UpstreamAccess({ vault, lock, refresh: refreshAtIdp(upstream) }),
    keepLogin: enabled ? (...args) => vault.keepLogin(...args) : async () => {},
  };
}
