import type { Cluster, Redis } from 'ioredis';
import type { Adapter } from 'oidc-provider';
import { revokedGrantOf } from './consumption.ts';
import { decorateAdapter } from './decorate.ts';

/**
 * Revoked grants, published where the resource servers can see them without asking the
 * auth server per request: a JWT access token stays valid until it expires, so a resource
 * server that shares the store refuses tokens whose `grant_id` is listed here.
 *
 * Every revocation path ends in an adapter's `revokeByGrantId` — RFC 7009, a replayed
 * refresh token or code (family revocation), the connected-apps page, the admin CLI — or in
 * a `consume` that finds the replay itself (the second of two requests that both passed
 * oidc-provider's check) and revokes the family inside the store; those two are where the
 * grant is published. Entries are kept as long as a token issued before
 * the revocation can live (the longest access-token lifetime), then pruned.
 *
 *   Redis:  sorted set `oidc:revoked-grants`, member = grant id, score = revocation time (ms)
 *   SQLite: table `revoked_grants (grant_id, revoked_at ms, retain_until s)` in the same file
 *   memory: not shared with anyone — tokens live until they expire (the README says so)
 */
export interface RevocationLog {
  publish(grantId: string): Promise<void>;
}

export const REVOKED_GRANTS_KEY = 'oidc:revoked-grants';

export function redisRevocationLog(redis: Redis | Cluster, retentionSeconds: number): RevocationLog {
  return {
    async publish(grantId) {
      const at = Date.now();
      await redis
        .multi()
        .zadd(REVOKED_GRANTS_KEY, at, grantId)
        .zremrangebyscore(REVOKED_GRANTS_KEY, '-inf', at - retentionSeconds * 1000)
        .exec();
    },
  };
}

/** An adapter that publishes every grant it revokes, after its records are gone. */
export function publishingRevocations(adapter: Adapter, log: RevocationLog): Adapter {
  return decorateAdapter(adapter, (method, call) => {
    if (method === 'revokeByGrantId') {
      return async (grantId) => {
        await call(grantId);
        await log.publish(String(grantId));
      };
    }
    if (method === 'consume') {
      return async (...args) => {
        try {
          return await call(...args);
        } catch (error) {
          const grantId = revokedGrantOf(error);
          if (grantId) await log.publish(grantId);
          throw error;
        }
      };
    }
    return call;
  });
}
