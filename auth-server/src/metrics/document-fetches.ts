import type { Configuration } from 'oidc-provider';
import type { AuthMetrics } from './registry.ts';

type ProviderFetch = NonNullable<Configuration['fetch']>;

/**
 * oidc-provider's outbound fetch: Client ID Metadata Documents and private_key_jwt clients'
 * `jwks_uri`s (registration refuses sector_identifier_uri). A document answered 200 counts as
 * a CIMD registration; what then fails is counted from the provider's errors. oidc-provider
 * asks for a document with `redirect: 'manual'` (lib/helpers/client_id_metadata_document.js)
 * and for a key set without it (lib/models/client.js): that is how the two are told apart.
 */
export function countDocumentFetches(fetch: ProviderFetch, metrics: AuthMetrics): ProviderFetch {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (response.status === 200 && (init as { redirect?: unknown } | undefined)?.redirect === 'manual')
      metrics.registrations.inc({ kind: 'cimd', outcome: 'fetched' });
    return response;
  };
}
