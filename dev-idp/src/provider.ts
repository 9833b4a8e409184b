// The oidc-provider configuration, as data: Dex's static clients and users, served with
// the claims Dex puts in ID tokens for static passwords.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import type { ClientMetadata, Configuration, JWK, KoaContextWithOIDC } from 'oidc-provider';
import type { DexConfig, DexStaticClient } from './dex-config.ts';
import { enterpriseClientMetadata, ID_JAG_TYPE, registerIdJagExchange, TOKEN_EXCHANGE, type IdJagPolicy } from './id-jag.ts';
import { StaticUsers } from './users.ts';
import { errorPage } from './views/error.ts';
import { inProcessStore } from './session-store.ts';

export interface ProviderOptions {
  dex: DexConfig;
  users: StaticUsers;
  /** Absolute path under which the interaction routes are served, e.g. `/dex/interaction`. */
  interactionsPath: string;
  /** Replaces a static client's redirect URIs, by client id. */
  redirectUris?: Record<string, string[]> | undefined;
  /** dev-idp as an enterprise IdP: which clients may exchange ID tokens for ID-JAGs, for which authorization server (id-jag.ts). */
  idJag?: IdJagPolicy | undefined;
}

export const SCOPES = ['openid', 'email', 'profile', 'offline_access'];

/** Which claims each scope releases: what Dex puts in ID tokens for a static password user. */
export const CLAIMS: Configuration['claims'] = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  auth_time: null,
};

/** Dex's endpoint paths, so URLs look the same with Dex or dev-idp. */
export const ROUTES: Configuration['routes'] = {
  authorization: '/auth',
  token: '/token',
  jwks: '/keys',
  userinfo: '/userinfo',
};

// Cookie names distinct from oidc-provider's defaults (`_session`, `_interaction`, ...):
// cookies are not isolated by port, and the auth server (also oidc-provider) runs on the
// same host, so the default names would let each server overwrite the other's cookies.
export const COOKIE_NAMES = {
  session: 'dev_idp_session',
  interaction: 'dev_idp_interaction',
  resume: 'dev_idp_resume',
};

export function clientMetadata(client: DexStaticClient, redirectUris?: string[], tokenExchange = false): ClientMetadata {
  return {
    client_id: client.id,
    ...(client.name !== undefined ? { client_name: client.name } : {}),
    ...(client.public
      ? { token_endpoint_auth_method: 'none' }
      : // client_secret_basic registered; oidc-provider accepts client_secret_post from
        // the same client too (both carry the plain secret), as Dex does.
        { client_secret: client.secret, token_endpoint_auth_method: 'client_secret_basic' }),
    redirect_uris: redirectUris ?? client.redirectURIs,
    grant_types: ['authorization_code', 'refresh_token', ...(tokenExchange ? [TOKEN_EXCHANGE] : [])],
    response_types: ['code'],
  };
}

/** One RSA signing key, made at start and kept in memory (a dev IdP: restart = new keys). */
function signingKeys(): { keys: JWK[] } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { keys: [{ ...jwk, kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' }] };
}

async function renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string | undefined }) {
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = errorPage({
    title: 'The request was refused',
    error: out.error,
    ...(out.error_description !== undefined ? { description: out.error_description } : {}),
  });
}

export function providerConfiguration(options: ProviderOptions): Configuration {
  const { dex, users, interactionsPath, redirectUris = {}, idJag } = options;
  for (const id of Object.keys(redirectUris)) {
    if (!dex.staticClients.some((c) => c.id === id)) {
      throw new Error(`redirectUris override names ${id}, which is not a static client`);
    }
  }
  const exchanging = new Set(Object.keys(idJag?.clients ?? {}));
  // An ID-JAG client the Dex config does not declare is dev-idp's own (id-jag.ts).
  const enterpriseOnly = [...exchanging].filter((id) => !dex.staticClients.some((c) => c.id === id)).map(enterpriseClientMetadata);
  return {
    adapter: inProcessStore(),
    clients: [...dex.staticClients.map((c) => clientMetadata(c, redirectUris[c.id], exchanging.has(c.id))), ...enterpriseOnly],
    ...(idJag ? { discovery: { identity_chaining_requested_token_types_supported: [ID_JAG_TYPE] } } : {}),
    scopes: SCOPES,
    claims: CLAIMS,
    // Dex puts the profile and email claims in the ID token itself.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    routes: ROUTES,
    findAccount(_ctx, sub) {
      const user = users.byId(sub);
      if (!user) return undefined;
      return { accountId: sub, claims: () => StaticUsers.claimsOf(user) };
    },
    interactions: {
      url: (_ctx, interaction) => `${interactionsPath}/${interaction.uid}`,
    },
    // What Dex offers, and no more: its client authentication methods, no PAR, no DPoP,
    // no logout endpoint. The login and consent pages are ours (src/interactions).
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      userinfo: { enabled: true },
    },
    // PKCE: S256 is the only method oidc-provider 9 offers; the default policy requires it
    // from public clients and accepts confidential clients with or without it.
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      names: COOKIE_NAMES,
    },
    jwks: signingKeys(),
    // Explicit lifetimes (oidc-provider nags about its defaults); a dev IdP needs no more.
    ttl: {
      AccessToken: 60 * 60,
      AuthorizationCode: 60,
      IdToken: 60 * 60,
      Interaction: 10 * 60,
      Session: 24 * 60 * 60,
      Grant: 24 * 60 * 60,
      RefreshToken: 24 * 60 * 60,
    },
    // Dex rotates a refresh token on every use; so does dev-idp, so the auth server's
    // one-refresh-per-grant lock is exercised the way Dex needs it.
    rotateRefreshToken: true,
    renderError,
  };
}

export function createProvider(issuer: string, options: ProviderOptions): Provider {
  const configuration = providerConfiguration(options);
  const provider = new Provider(issuer, configuration);
  provider.use(offlineAccessLikeDex);
  provider.use(unauthorizedClientForDisallowedGrants);
  // Registered before any client is looked up: static clients are validated on first use.
  if (options.idJag) registerIdJagExchange(provider, { policy: options.idJag, signingKey: configuration.jwks!.keys[0]!, users: options.users });
  return provider;
}

/**
 * RFC 6749 §5.2: a grant type the client may not use is `unauthorized_client` (as Dex answers);
 * oidc-provider says `invalid_request` with this description (lib/actions/token.js). The
 * auth server corrects it the same way (its policies/token-error-codes.ts).
 */
async function unauthorizedClientForDisallowedGrants(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
  await next();
  const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
  if (body?.error === 'invalid_request' && body.error_description === 'requested grant type is not allowed for this client') body.error = 'unauthorized_client';
}

/**
 * Dex issues a refresh token whenever `offline_access` is requested. oidc-provider follows
 * OIDC Core §11 and drops `offline_access` unless the request also says `prompt=consent`.
 * Consent is automatic here, so asking for it changes nothing visible: add it to such
 * authorization requests (GET, without a prompt), and dev-idp behaves as Dex does.
 */
async function offlineAccessLikeDex(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
  if (ctx.method === 'GET' && ctx.path === ROUTES?.authorization) {
    const query = new URLSearchParams(ctx.querystring);
    if (!query.has('prompt') && query.get('scope')?.split(' ').includes('offline_access')) {
      query.set('prompt', 'consent');
      ctx.querystring = query.toString();
    }
  }
  await next();
}
