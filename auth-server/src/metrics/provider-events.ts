import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { cimdFailure } from './cimd-failures.ts';
import type { AuthMetrics } from './registry.ts';

interface ProviderError {
  error?: string;
  error_description?: string;
  error_detail?: string;
}

/** The grant types this server knows; anything else is counted as `other`. */
const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
]);

/** Events oidc-provider emits with a refused request's error. */
const ERROR_EVENTS = [
  'authorization.error',
  'grant.error',
  'pushed_authorization_request.error',
  'introspection.error',
  'revocation.error',
  'registration_create.error',
];

/**
 * Counts what oidc-provider reports through its events: authorizations, tokens issued,
 * refresh token reuse, registrations and Client ID Metadata Document failures. `resources`
 * bounds the resource label to what this server issues tokens for (and the token exchange
 * audiences): a client-supplied value never becomes a label.
 */
export function countProviderEvents(provider: Provider, metrics: AuthMetrics, resources: readonly string[]) {
  const known = new Set(resources);
  const events = provider as unknown as NodeJS.EventEmitter;

  const started = (ctx: KoaContextWithOIDC) => {
    // The first interaction (or none) of a request to the authorization endpoint itself, not of a resume.
    if (ctx.oidc.route === 'authorization') metrics.authorizationsStarted.inc();
  };
  events.on('interaction.started', started);
  events.on('authorization.accepted', started);
  events.on('authorization.success', () => metrics.authorizationsCompleted.inc());

  events.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = typeof ctx.oidc.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : '';
    const token = (ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.ClientCredentials) as { aud?: unknown } | undefined;
    const audience = typeof token?.aud === 'string' ? token.aud : typeof ctx.oidc.params?.audience === 'string' ? ctx.oidc.params.audience : undefined;
    metrics.tokensIssued.inc({
      grant_type: GRANT_TYPES.has(grantType) ? grantType : 'other',
      resource: audience === undefined ? 'none' : known.has(audience) ? audience : 'other',
    });
  });

  events.on('registration_create.success', () => metrics.registrations.inc({ kind: 'dcr', outcome: 'created' }));
  events.on('registration_create.error', () => metrics.registrations.inc({ kind: 'dcr', outcome: 'refused' }));

  for (const event of ERROR_EVENTS) {
    events.on(event, (_ctx: unknown, error: ProviderError) => {
      // The adapters and oidc-provider say so in the same words when a rotated refresh token comes back.
      if (error.error === 'invalid_grant' && error.error_detail === 'refresh token already used') metrics.refreshTokenReuse.inc();
      const reason = cimdFailure(error);
      if (reason) {
        metrics.cimdFetchFailures.inc({ reason });
        metrics.registrations.inc({ kind: 'cimd', outcome: 'refused' });
      }
    });
  }
}
