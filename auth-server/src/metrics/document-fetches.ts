import type { Configuration } from 'oidc-provider';
import type { AuthMetrics } from './registry.ts';

type ProviderFetch = NonNullable<Configuration['fetch']>;

/**
 * oidc-provider's outbound fetch: in this stack only Client ID Metadata Documents are fetched
 * (registration refuses jwks_uri and sector_identifier_uri), so a document answered 200 counts
 * as a CIMD registration; what then fails is counted from the provider's errors.
 */
export function countDocumentFetches(fetch: ProviderFetch, metrics: AuthMetrics): ProviderFetch {
  return async (...args) => {
    const response = await fetch(...args);
    if (response.status === 200) metrics.registrations.inc({ kind: 'cimd', outcome: 'fetched' });
    return response;
  };
}
