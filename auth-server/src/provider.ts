import Provider, { type AdapterFactory, type ClientMetadata, type Configuration } from 'oidc-provider';
import { findAccountIn, type AccountStore } from './accounts.ts';
import type { Config } from './config.ts';
import { metadataCacheControl } from './http/metadata-cache.ts';
import type { SigningJwk } from './keys.ts';
import type { Logger } from './log.ts';
import { installAtomicReplayDetection } from './adapters/replay-detection.ts';
import { authorizationErrorRedirects } from './policies/authorization-errors.ts';
import { assertClientAssertion, CLIENT_ASSERTION_SIGNING_ALGS, explainClientAssertionRefusals } from './policies/client-assertions.ts';
import { dpopFeature } from './policies/dpop.ts';
import { promptPolicy } from './policies/consent-policy.ts';
import { cimdAllowFetch } from './policies/outbound-fetch.ts';
import { enforceRegistrationPolicy } from './policies/client-registration.ts';
import { loopbackRedirectMatches, validateRedirectUris } from './policies/redirect-uris.ts';
import { keepOnlyOidcScopes } from './policies/registration-scopes.ts';
import { resourcePolicy, type ProtectedResource } from './policies/resources.ts';
import { unauthorizedClientForDisallowedGrants } from './policies/token-error-codes.ts';
import { installTokenExchange } from './token-exchange/install.ts';
import { withUpstreamLoginCheck } from './upstream-tokens/grant-binding.ts';
import type { UpstreamTokens } from './upstream-tokens/index.ts';
import { errorPage } from './views.ts';

export interface ProviderDeps {
  config: Config;
  adapter: AdapterFactory;
  accounts: AccountStore;
  resources: ProtectedResource[];
  staticClients: ClientMetadata[];
  /** Pre-registered clients that may introspect tokens (resource servers). */
  introspectors: Set<string>;
  signingKeys: SigningJwk[];
  cookieKeys: string[];
  logger: Logger;
  /** Every outbound request oidc-provider makes (policies/outbound-fetch.ts). */
  fetch: NonNullable<Configuration['fetch']>;
  /** The IdP's tokens per grant, handed out by token exchange (upstream-tokens/, token-exchange/). */
  upstreamTokens: UpstreamTokens;
  /** Pre-registered clients that may exchange tokens, and the resources whose tokens they may present. */
  exchangers: Map<string, string[]>;
}

/** The oidc-provider configuration, as data: everything it decides is decided here or in policies/. */
export function createProvider(deps: ProviderDeps): Provider {
  const { config, accounts, introspectors } = deps;
  const resources = resourcePolicy(deps.resources);
  const resourceScopes = new Set(deps.resources.flatMap((resource) => resource.scopes));
  const configuredClientIds = new Set(deps.staticClients.map((client) => client.client_id));
  const errorRedirects = authorizationErrorRedirects(configuredClientIds);
  const cookie = { signed: true, httpOnly: true, sameSite: 'lax', secure: config.secureCookies } as const;

  const configuration: Configuration = {
    adapter: deps.adapter,
    clients: deps.staticClients,
    findAccount: findAccountIn(accounts),
    jwks: { keys: deps.signingKeys },
    cookies: { keys: deps.cookieKeys, long: cookie, short: cookie },
    scopes: ['openid', 'offline_access'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
    },
    // Authorization code only: no implicit or hybrid responses (OAuth 2.1).
    responseTypes: ['code'],
    // RFC 7591 names these; declaring them is also how the registration policies see every
    // client's full metadata (the validator runs once per declared property).
    extraClientMetadata: {
      properties: ['software_id', 'software_version'],
      validator(ctx, key, _value, metadata) {
        if (key !== 'software_id') return;
        enforceRegistrationPolicy(ctx, metadata, configuredClientIds);
        validateRedirectUris(metadata);
        keepOnlyOidcScopes(metadata, resourceScopes);
      },
    },
    // Secrets, a private key (private_key_jwt: the client's public keys are its `jwks`, or a
    // `jwks_uri` fetched through the provider's `fetch` below — the address guard for a URL a
    // client chose, not for the operator's in CLIENTS_FILE), or nothing. No shared-key JWTs
    // (client_secret_jwt): the assertion algorithms are asymmetric only (policies/client-assertions.ts).
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: { clientAuthSigningAlgValues: [...CLIENT_ASSERTION_SIGNING_ALGS] },
    assertJwtClientAuthClaimsAndHeader: assertClientAssertion,
    features: {
      devInteractions: { enabled: false },
      // MCP clients do not log users out of the authorization server; RP-initiated logout
      // would only add a redirect endpoint (and post_logout_redirect_uris) to defend.
      rpInitiatedLogout: { enabled: false },
      registration: {
        enabled: true,
        initialAccessToken: config.registration.initialAccessToken ?? false,
        issueRegistrationAccessToken: true,
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        allowFetch: cimdAllowFetch({ logger: deps.logger }),
      },
      // A client revokes its own tokens only (RFC 7009 §2.1).
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      introspection: {
        enabled: true,
        // Only operator-registered resource servers; never a DCR or CIMD client.
        allowedPolicy: async (_ctx, client) => introspectors.has(client.clientId),
      },
      clientCredentials: { enabled: true },
      // RFC 9449 at the token endpoint; which resources require it: policies/resources.ts.
      dPoP: dpopFeature(config.dpop),
      resourceIndicators: {
        enabled: true,
        defaultResource: resources.defaultResource,
        getResourceServerInfo: resources.getResourceServerInfo,
        useGrantedResource: resources.useGrantedResource,
      },
    },
    // Browser clients (MCP Inspector) call the token, revocation and introspection endpoints
    // cross-origin: allowed from the origins of the client's own redirect URIs.
    clientBasedCORS: (_ctx, origin, client) => client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false,
    // PKCE for every authorization request, public or confidential; oidc-provider only
    // implements S256, so `plain` is refused as an unsupported method.
    pkce: { required: () => true },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: deps.upstreamTokens.enabled ? withUpstreamLoginCheck(promptPolicy(), deps.upstreamTokens.vault, deps.logger) : promptPolicy(),
    },
    // MCP clients rarely ask for offline_access, and a refresh token that dies with the
    // browser session is useless to a CLI or an agent. Public clients' refresh tokens
    // rotate on every use (oidc-provider's default rotateRefreshToken).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    // whoami on the resource server reads the user from the access token alone.
    // The grant id lets resource servers refuse a revoked grant's tokens at once, from the
    // revocations published in the store they share (adapters/revocations.ts).
    extraTokenClaims: async (_ctx, token) => {
      const grant = 'grantId' in token && typeof token.grantId === 'string' ? { grant_id: token.grantId } : {};
      if (!('accountId' in token) || typeof token.accountId !== 'string') return grant;
      const profile = await accounts.get(token.accountId);
      return profile ? { ...grant, email: profile.email, name: profile.name } : grant;
    },
    ttl: {
      AccessToken: config.resource.accessTokenTtl,
      ClientCredentials: config.resource.accessTokenTtl,
      AuthorizationCode: 60,
      Interaction: 10 * 60,
      Grant: config.refreshToken.ttl,
      Session: config.refreshToken.ttl,
      RefreshToken: config.refreshToken.ttl,
      IdToken: 60 * 60,
      RegistrationAccessToken: 365 * 24 * 60 * 60,
    },
    renderError: async (ctx, out, error) => {
      ctx.type = 'html';
      const link = errorRedirects.linkFor(error);
      const back = link ? { href: link, label: `Return to ${new URL(link).host} and tell it about the error` } : undefined;
      ctx.body = errorPage('Sign-in error', `${out.error}: ${out.error_description ?? ''}`, back);
    },
    fetch: deps.fetch,
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  provider.use(unauthorizedClientForDisallowedGrants);
  provider.use(metadataCacheControl);
  provider.on('authorization.error', errorRedirects.onError);
  explainClientAssertionRefusals(provider);
  installAtomicReplayDetection(provider, deps.adapter);
  installTokenExchange(provider, {
    upstreamTokens: deps.upstreamTokens,
    adapter: deps.adapter,
    exchangers: deps.exchangers,
    audiences: config.upstreamAudiences,
    signingKeys: deps.signingKeys,
    logger: deps.logger,
  });

  // RFC 8252 §7.3 for every client, not only `application_type: native` ones.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called on the client below (exactMatch.call(this, …))
  const exactMatch = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(uri: string) {
    return exactMatch.call(this, uri) || loopbackRedirectMatches([...(this.redirectUris ?? [])], uri);
  };
  return provider;
}
