import type { AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';

/**
 * What happens when a single-use artifact (authorization code, refresh token, …) is
 * consumed a second time. Shared by the memory and Redis adapters so both behave alike.
 *
 * A rotated refresh token presented again within `refreshOverlapSeconds` of its first use is
 * accepted: two tabs refreshing at once, or a client whose response was lost, keep working.
 * Any other second use is a replay: the whole grant (every token of the family) is revoked.
 */
export interface ConsumptionPolicy {
  refreshOverlapSeconds: number;
}

export function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Within the overlap window a rotated refresh token still counts as unused. */
export function withinOverlap(model: string, consumedAt: number, policy: ConsumptionPolicy, at = now()): boolean {
  return model === 'RefreshToken' && policy.refreshOverlapSeconds > 0 && at - consumedAt <= policy.refreshOverlapSeconds;
}

/**
 * The error a replay gets once the adapter has revoked the grant; it names that grant, so
 * the revocation can be published like every other (revocations.ts).
 */
export function replayError(model: string, revokedGrantId: string | undefined): Error {
  const label = model === 'RefreshToken' ? 'refresh token already used' : `${model} already consumed`;
  return Object.assign(new errors.InvalidGrant(label), { revokedGrantId });
}

/** The grant a replay revoked, when `error` is a replay error that revoked one. */
export function revokedGrantOf(error: unknown): string | undefined {
  const grantId = (error as { revokedGrantId?: unknown } | null)?.revokedGrantId;
  return typeof grantId === 'string' ? grantId : undefined;
}

/** A record as operators list it: its id and payload. */
export interface StoredRecord {
  id: string;
  payload: AdapterPayload;
}
