import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts.ts';
import type { Logger } from '../log.ts';
import { resourcePolicy, type ProtectedResource } from '../policies/resources.ts';
import type { AssertionIssuers } from '../registry.ts';
import { EnterpriseAccounts } from './enterprise-accounts.ts';
import { registerJwtBearer } from './grant.ts';
import { TrustedIssuers } from './trusted-issuers.ts';

export interface JwtBearerInstall {
  /** From ENTERPRISE_IDPS_FILE and WORKLOAD_ISSUERS_FILE (registry.ts loadAssertionIssuers). */
  issuers: AssertionIssuers;
  resources: ProtectedResource[];
  accounts: AccountStore;
  /** The upstream IdP's issuer: its ID-JAGs' subjects are the accounts its logins created. */
  upstreamIssuer: string;
  logger: Logger;
}

/**
 * The JWT bearer grant, offered (and so in `grant_types_supported`) only when some issuer is
 * trusted: registered after the provider is built, as token exchange is, before any client
 * is looked up (static clients are validated on first use, against the grant types known then).
 */
export function installJwtBearer(provider: Provider, { issuers, resources, accounts, upstreamIssuer, logger }: JwtBearerInstall) {
  registerJwtBearer(provider, {
    trusted: new TrustedIssuers(issuers),
    resources: resourcePolicy(resources),
    accounts: new EnterpriseAccounts(accounts, upstreamIssuer),
    logger,
  });
  logger.info(
    { enterpriseIdps: issuers.enterpriseIdps.map((idp) => idp.issuer), workloadIssuers: [...new Set(issuers.workloadIssuers.map((entry) => entry.issuer))] },
    'jwt-bearer grant offered',
  );
}
