import { Counter, Histogram, Registry } from 'prom-client';

/**
 * The auth server's metrics, one registry per server (tests run several in one process).
 * Labels are small fixed vocabularies — an outcome, a grant type, a configured resource, an
 * endpoint — never a token, a user or a client id: those would leak who does what, and give
 * every user a time series of their own.
 */
export function createAuthMetrics() {
  const registry = new Registry();
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    authorizationsStarted: counter(
      'auth_server_authorizations_started_total',
      'Authorization requests accepted at the authorization endpoint (a sign-in or consent may follow)',
    ),
    authorizationsCompleted: counter('auth_server_authorizations_completed_total', 'Authorizations that ended with a code for the client'),
    consentDenied: counter('auth_server_consent_denied_total', 'Consent pages answered with Deny'),
    idpLogins: counter('auth_server_idp_logins_total', 'Returns from the upstream IdP, by outcome', ['outcome']),
    tokensIssued: counter('auth_server_tokens_issued_total', 'Successful token endpoint requests, by grant type and the resource the access token is for', [
      'grant_type',
      'resource',
    ]),
    refreshTokenReuse: counter(
      'auth_server_refresh_token_reuse_total',
      'Rotated refresh tokens presented again outside the reuse window: the grant family was revoked',
    ),
    registrations: counter(
      'auth_server_client_registrations_total',
      'Client registrations: DCR requests, and Client ID Metadata Documents fetched (or refused)',
      ['kind', 'outcome'],
    ),
    cimdFetchFailures: counter('auth_server_cimd_fetch_failures_total', 'Client ID Metadata Documents that could not be used, by reason', ['reason']),
    rateLimited: counter('auth_server_rate_limited_requests_total', 'Requests answered 429 by the per-address rate limits', ['endpoint']),
    storeLatency: new Histogram({
      name: 'auth_server_store_operation_seconds',
      help: 'Time of each storage operation (oidc-provider adapter calls), by backend, operation and outcome',
      labelNames: ['backend', 'operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type AuthMetrics = ReturnType<typeof createAuthMetrics>;

/** What the interaction pages report (interactions/routes.ts). */
export type IdpLoginOutcome = 'success' | 'cancelled' | 'malformed' | 'unavailable' | 'refused' | 'unverifiable';

export interface InteractionObserver {
  idpLogin(outcome: IdpLoginOutcome): void;
  consentDenied(): void;
}

export function interactionObserver(metrics: AuthMetrics): InteractionObserver {
  return {
    idpLogin: (outcome) => metrics.idpLogins.inc({ outcome }),
    consentDenied: () => metrics.consentDenied.inc(),
  };
}
