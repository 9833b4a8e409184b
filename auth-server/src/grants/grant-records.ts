import type { AdapterPayload } from 'oidc-provider';
import type { Storage } from '../adapters/index.ts';

/**
 * What a user granted a client, read from oidc-provider's Grant records: one per
 * (account, client), holding the OpenID scopes and, per resource, the resource scopes.
 * "Last used" is the newest refresh or access token issued under the grant.
 */
export interface GrantView {
  grantId: string;
  accountId: string;
  clientId: string;
  openidScopes: string[];
  resources: { url: string; scopes: string[] }[];
  /** Epoch seconds. */
  authorizedAt: number | undefined;
  lastUsedAt: number | undefined;
  expiresAt: number | undefined;
}

const words = (value: unknown) => (typeof value === 'string' ? value.split(' ').filter(Boolean) : []);

export function grantView(grantId: string, payload: AdapterPayload, lastUsedAt?: number): GrantView {
  const record = payload as AdapterPayload & { openid?: { scope?: string }; resources?: Record<string, string> };
  return {
    grantId,
    accountId: record.accountId ?? '',
    clientId: record.clientId ?? '',
    openidScopes: words(record.openid?.scope),
    resources: Object.entries(record.resources ?? {}).map(([url, scope]) => ({ url, scopes: words(scope) })),
    authorizedAt: typeof record.iat === 'number' ? record.iat : undefined,
    lastUsedAt,
    expiresAt: typeof record.exp === 'number' ? record.exp : undefined,
  };
}

/** Grants matching `filter`, newest first, each with when a token was last issued under it. */
export async function listGrants(storage: Storage, filter: (grant: GrantView) => boolean): Promise<GrantView[]> {
  const grants = (await storage.list('Grant')).map(({ id, payload }) => grantView(id, payload)).filter(filter);
  if (grants.length === 0) return grants;
  const lastUse = new Map<string, number>();
  for (const model of ['RefreshToken', 'AccessToken']) {
    for (const { payload } of await storage.list(model)) {
      const grantId = payload.grantId;
      if (typeof grantId === 'string' && typeof payload.iat === 'number') lastUse.set(grantId, Math.max(lastUse.get(grantId) ?? 0, payload.iat));
    }
  }
  return grants
    .map((grant) => ({ ...grant, lastUsedAt: lastUse.get(grant.grantId) ?? grant.authorizedAt }))
    .sort((a, b) => (b.authorizedAt ?? 0) - (a.authorizedAt ?? 0));
}
