import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { describeError, type Logger } from '../log.ts';
import { canonicalResource, type resourcePolicy } from '../policies/resources.ts';
import { invalidGrant } from '../token-exchange/subject-token.ts';
import { issueMachineToken, issueUserToken, type Issue } from './access-token.ts';
import { dpopProof, type DpopProof } from './dpop-binding.ts';
import { IssuerKeysUnavailable, peek, quote } from './assertions.ts';
import type { EnterpriseAccounts } from './enterprise-accounts.ts';
import { ID_JAG_TYP, JWT_BEARER } from './grant-type.ts';
import { verifyIdJag, type IdJag } from './id-jag.ts';
import type { TrustedIssuers, WorkloadIssuer } from './trusted-issuers.ts';
import { firstUse } from './used-assertions.ts';
import { verifyWorkloadToken } from './workload.ts';

/**
 * The JWT bearer grant (RFC 7523 §2.1) at the token endpoint, for two kinds of assertion:
 *
 * - an ID-JAG (`typ: oauth-id-jag+jwt`) from a trusted enterprise IdP, redeemed by the client
 *   it names, which authenticates: a token for the user it names, without a consent screen
 *   (the enterprise decided), for the resource it names;
 * - a workload's platform-issued JWT from a trusted workload issuer, presented by that
 *   issuer's configured machine client (public or not: the assertion is the credential): a
 *   machine token for the configured resource and scopes.
 *
 * Checked in this order, each with its own error: a DPoP proof, if sent (invalid_dpop_proof,
 * use_dpop_nonce, invalid_grant for a replayed one; the token is then bound to its key, dpop-binding.ts); the assertion parses (invalid_grant); its
 * issuer is trusted for its kind (invalid_grant); this client may redeem that issuer's
 * assertions (unauthorized_client); signature and claims (invalid_grant); the resource
 * (invalid_target); the scope (invalid_scope); the `jti` was not used before (invalid_grant) —
 * last, so a request refused for another reason does not use the assertion up. Client
 * authentication (invalid_client) and the client's grant types (unauthorized_client) are
 * oidc-provider's, before this handler.
 *
 * Registered with provider.registerGrantType (README upgrade notes).
 */

const PARAMETERS = ['assertion', 'scope', 'resource'];

export interface JwtBearerDeps {
  trusted: TrustedIssuers;
  resources: ReturnType<typeof resourcePolicy>;
  accounts: EnterpriseAccounts;
  logger: Logger;
}

type Params = Record<string, string | undefined>;

export function registerJwtBearer(provider: Provider, deps: JwtBearerDeps) {
  provider.registerGrantType(
    JWT_BEARER,
    async (ctx) => {
      try {
        await redeem(ctx, provider, deps);
      } catch (error) {
        // The client sees that the issuer's keys are unavailable; the operator sees why.
        if (error instanceof IssuerKeysUnavailable) {
          deps.logger.warn({ issuer: error.issuer, err: describeError(error.cause) }, 'jwt-bearer: an issuer’s keys cannot be fetched');
        }
        throw error;
      }
    },
    PARAMETERS,
  );
}

async function redeem(ctx: KoaContextWithOIDC, provider: Provider, deps: JwtBearerDeps) {
  const params = ctx.oidc.params as Params;
  const assertion = params.assertion;
  if (!assertion) throw new errors.InvalidRequest('assertion is required (the JWT this grant is for)');
  // First, as oidc-provider's grants do: a use_dpop_nonce answer must not use the assertion up.
  const proof = await dpopProof(provider, ctx);
  const { typ, iss } = peek(assertion);
  if (iss === undefined) throw invalidGrant('the assertion has no iss claim');

  if (typ === ID_JAG_TYP) return redeemIdJag(ctx, provider, deps, assertion, iss, proof);
  const workloads = deps.trusted.workloadIssuers(iss);
  if (workloads.length) return redeemWorkloadToken(ctx, provider, deps, assertion, workloads, proof);
  if (deps.trusted.enterpriseIdp(iss))
    throw invalidGrant(`an ID-JAG must have the typ header ${ID_JAG_TYP} (RFC 8725 §3.11); this assertion's is ${typ ?? 'absent'}`);
  throw invalidGrant(`the assertion's issuer ${quote(iss)} is not trusted by this server`);
}

async function redeemIdJag(ctx: KoaContextWithOIDC, provider: Provider, deps: JwtBearerDeps, assertion: string, iss: string, proof: DpopProof | undefined) {
  const client = ctx.oidc.client!;
  const idp = deps.trusted.enterpriseIdp(iss);
  if (!idp) throw invalidGrant(`the ID-JAG's issuer ${quote(iss)} is not an enterprise IdP this server trusts`);
  // registry.ts admits no public client here; checked again, as the ID-JAG is a user's grant.
  if (!idp.clients.includes(client.clientId) || client.clientAuthMethod === 'none') {
    throw new errors.UnauthorizedClient(`client ${client.clientId} may not redeem ID-JAGs of ${idp.issuer}`);
  }
  const jag = await verifyIdJag(assertion, idp, provider.issuer);
  if (jag.clientId !== client.clientId) throw invalidGrant(`the ID-JAG was issued for client ${quote(jag.clientId)}, not for ${client.clientId}`);

  const issue = await idJagTarget(ctx, deps, jag);
  if (!(await firstUse(provider, jag.issuer, jag.jti, jag.exp)))
    throw invalidGrant('the ID-JAG was already used (its jti was seen before): ask the IdP for a new one');
  const accountId = await deps.accounts.accountFor(jag);
  await issueUserToken(ctx, provider, accountId, issue, proof);
  deps.logger.info({ client: client.clientId, issuer: jag.issuer, sub: accountId, resource: issue.resource.url }, 'jwt-bearer: ID-JAG redeemed');
}

/** The resource (RFC 8707: the ID-JAG's, which a `resource` parameter may only repeat) and the scopes of the token. */
async function idJagTarget(ctx: KoaContextWithOIDC, deps: JwtBearerDeps, jag: IdJag): Promise<Issue> {
  const params = ctx.oidc.params as Params;
  if (jag.resources.length === 0) throw invalidGrant('the ID-JAG names no resource: the IdP must say which MCP server it is for (its resource claim)');
  let url: string;
  if (params.resource !== undefined) {
    const asked = canonicalResource(params.resource);
    if (asked === undefined || !jag.resources.some((named) => canonicalResource(named) === asked)) {
      throw new errors.InvalidTarget(`resource ${quote(params.resource)} is not one the ID-JAG was issued for`);
    }
    url = params.resource;
  } else if (jag.resources.length === 1) {
    url = jag.resources[0]!;
  } else {
    throw new errors.InvalidTarget('the ID-JAG names several resources: choose one with the resource parameter');
  }
  const requested = params.scope !== undefined ? params.scope.split(' ').filter(Boolean) : undefined;
  return target(ctx, deps, url, (resource) => {
    const asked = requested ?? jag.scopes ?? resource.defaultScopes;
    const unknown = asked.filter((scope) => !resource.scopes.includes(scope));
    if (unknown.length) throw new errors.InvalidScope(`${unknown.join(' ')}: not a scope of ${resource.url}`, unknown.join(' '));
    // MCP enterprise-managed authorization §7.2.1: what was asked for, within what the IdP granted.
    const granted = jag.scopes === undefined ? asked : asked.filter((scope) => jag.scopes!.includes(scope));
    if (granted.length === 0) throw new errors.InvalidScope('the ID-JAG grants none of the requested scopes', asked.join(' '));
    return granted;
  });
}

async function redeemWorkloadToken(
  ctx: KoaContextWithOIDC,
  provider: Provider,
  deps: JwtBearerDeps,
  assertion: string,
  mappings: readonly WorkloadIssuer[],
  proof: DpopProof | undefined,
) {
  const client = ctx.oidc.client!;
  const params = ctx.oidc.params as Params;
  const mapping = mappings.find((candidate) => candidate.clientId === client.clientId);
  if (!mapping) throw new errors.UnauthorizedClient(`client ${client.clientId} may not redeem workload tokens of ${mappings[0]!.issuer}`);
  const workload = await verifyWorkloadToken(assertion, mapping);

  if (params.resource !== undefined && deps.resources.find(params.resource) !== deps.resources.find(mapping.resource)) {
    throw new errors.InvalidTarget(`workloads of ${mapping.issuer} get tokens for ${mapping.resource} only`);
  }
  const requested = params.scope?.split(' ').filter(Boolean) ?? [];
  const issue = await target(ctx, deps, mapping.resource, () => {
    // SEP-1933 leaves the rule to the server: what was asked for, within what the mapping allows; nothing asked, all of it.
    if (requested.length === 0) return mapping.scopes;
    const granted = requested.filter((scope) => mapping.scopes.includes(scope));
    if (granted.length === 0) throw new errors.InvalidScope(`this workload may have ${mapping.scopes.join(' ')} only`, requested.join(' '));
    return granted;
  });
  if (workload.jti !== undefined && !(await firstUse(provider, workload.issuer, workload.jti, workload.exp))) {
    throw invalidGrant('the workload token was already used (its jti was seen before): present a new one');
  }
  await issueMachineToken(ctx, provider, issue, proof);
  deps.logger.info(
    { client: client.clientId, issuer: workload.issuer, workload: workload.subject, resource: issue.resource.url },
    'jwt-bearer: workload token redeemed',
  );
}

/** The configured resource at `url`, its token settings, and the scopes `choose` grants for it. */
async function target(ctx: KoaContextWithOIDC, deps: JwtBearerDeps, url: string, choose: (resource: Issue['resource']) => string[]): Promise<Issue> {
  const resource = deps.resources.find(url);
  if (!resource) throw new errors.InvalidTarget(`resource ${quote(url)} is not served by this authorization server`);
  const scopes = choose(resource);
  const info = await deps.resources.getResourceServerInfo(ctx, resource.url);
  return { resource, info, scopes };
}
