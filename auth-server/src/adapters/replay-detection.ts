import { hash } from 'node:crypto';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type Provider from 'oidc-provider';

/**
 * "Seen this jti before?" in one step of the store. oidc-provider keeps the `jti` of every
 * client assertion (private_key_jwt) and DPoP proof as a `ReplayDetection` record, but its
 * `ReplayDetection.unique` looks the record up and then writes it: two requests with the same
 * assertion, at two instances sharing Redis or a SQLite file, could both find nothing and both
 * be accepted. Here `unique` is one `createIfAbsent` on the store instead — a Lua script on
 * Redis, one INSERT … ON CONFLICT on SQLite, a synchronous check-and-set in memory — so exactly
 * one of them wins. The record id is oidc-provider's own (sha256 of iss and jti), so instances
 * still running the unpatched `unique` during a rolling upgrade see the same records.
 */
export interface CreatesIfAbsent {
  createIfAbsent(id: string, payload: AdapterPayload, expiresIn: number): Promise<boolean>;
}

function createsIfAbsent(adapter: Adapter): adapter is Adapter & CreatesIfAbsent {
  return typeof (adapter as Partial<CreatesIfAbsent>).createIfAbsent === 'function';
}

export function installAtomicReplayDetection(provider: Provider, adapters: AdapterFactory) {
  const records = adapters('ReplayDetection');
  // Another adapter (none in this project): oidc-provider's find-then-save stays.
  if (!createsIfAbsent(records)) return;
  provider.ReplayDetection.unique = async (iss: string, jti: string, exp: number) => {
    const id = hash('sha256', `${iss}${jti}`, 'base64url');
    const now = Math.floor(Date.now() / 1000);
    // oidc-provider passes a future exp (verified assertion exp + clock tolerance); at least a second.
    const expiresIn = Math.max(1, exp - now);
    return records.createIfAbsent(id, { jti: id, kind: 'ReplayDetection', iss, iat: now, exp: now + expiresIn }, expiresIn);
  };
}
