import Provider, { type Configuration } from 'oidc-provider';
import { findAccountIn, type AccountStore } from './accounts.ts';
import type { Config } from './config.ts';
import type { SigningJwk } from './keys.ts';
import { resourcePolicy } from './policies/resources.ts';
import { errorPage } from './views.ts';

export interface ProviderDeps {
  config: Config;
  accounts: AccountStore;
  signingKeys: SigningJwk[];
  cookieKeys: string[];
}

/** The oidc-provider configuration, as data: everything it decides is decided here or in policies/. */
export function createProvider({ config, accounts, signingKeys, cookieKeys }: ProviderDeps): Provider {
  const resources = resourcePolicy([
    {
      url: config.resource.url,
      scopes: config.resource.scopes,
      defaultScopes: config.resource.defaultScopes,
      accessTokenTtl: config.resource.accessTokenTtl,
    },
  ]);

  const configuration: Configuration = {
    findAccount: findAccountIn(accounts),
    jwks: { keys: signingKeys },
    cookies: {
      keys: cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: config.issuer.startsWith('https:') },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: config.issuer.startsWith('https:') },
    },
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
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: resources.defaultResource,
        getResourceServerInfo: resources.getResourceServerInfo,
        useGrantedResource: resources.useGrantedResource,
      },
    },
    // PKCE for every authorization request, public or confidential; oidc-provider only
    // implements S256, so `plain` is refused as an unsupported method.
    pkce: { required: () => true },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // MCP clients rarely ask for offline_access, and a refresh token that dies with the
    // browser session is useless to a CLI or an agent.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    // whoami on the resource server reads the user from the access token alone.
    extraTokenClaims: async (_ctx, token) => {
      if (!('accountId' in token) || typeof token.accountId !== 'string') return undefined;
      const profile = await accounts.get(token.accountId);
      return profile ? { email: profile.email, name: profile.name } : undefined;
    },
    ttl: {
      AccessToken: config.resource.accessTokenTtl,
      AuthorizationCode: 60,
      Interaction: 10 * 60,
      Grant: 14 * 24 * 60 * 60,
      Session: 14 * 24 * 60 * 60,
      RefreshToken: 14 * 24 * 60 * 60,
      IdToken: 60 * 60,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage('Sign-in error', `${out.error}: ${out.error_description ?? ''}`);
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}
