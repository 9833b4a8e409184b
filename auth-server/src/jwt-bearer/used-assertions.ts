import type Provider from 'oidc-provider';
import { CLOCK_TOLERANCE_SECONDS } from './assertions.ts';

/**
 * An assertion's `jti` is accepted once (RFC 7523 §3 item 7 lets the server refuse a reused
 * one; the ID-JAG draft requires `jti`). Kept through oidc-provider's ReplayDetection model,
 * the one that keeps client assertions' and DPoP proofs' jti, so it lives in the configured
 * store — memory, the SQLite file, or the Redis that every instance shares — until the
 * assertion could no longer be accepted anyway (its `exp` plus the clock tolerance).
 * `ReplayDetection.unique` is made a single atomic step of the store by
 * adapters/replay-detection.ts. The issuer is part of the key: two issuers may pick the same
 * jti, and this grant's records never meet the other users' of the model.
 */
export async function firstUse(provider: Provider, issuer: string, jti: string, exp: number): Promise<boolean> {
  // At least a second more than the acceptance window: an expiry of 0 would mean "never" to the adapters.
  return provider.ReplayDetection.unique(`jwt-bearer ${issuer} `, jti, exp + CLOCK_TOLERANCE_SECONDS + 1);
}
