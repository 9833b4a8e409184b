/**
 * The flow, assembled from the steps: interactive login (steps 1–6) or the
 * client_credentials grant, getting a usable access token for a server (stored →
 * refreshed before expiry → none), and running MCP operations that react to what the
 * server says: 401 (log in from its challenge, refresh a stored token, follow a resource
 * that moved to another authorization server) and 403 insufficient_scope (step up with
 * the union of scopes, at most `maxStepUps` times).
 */
import { computeScopeUnion, isStrictScopeSuperset } from '@modelcontextprotocol/client';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/client';
import { CliError } from '../errors.ts';
import type { ResourceEntry, Store, StoredTokens } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { buildAuthorizationUrl, newState, openBrowser, selectScope, waitForBrowser } from './authorize.ts';
import type { Challenge } from './discover.ts';
import { discover, storedAuthorizationServer, storedResourceParameter } from './discovery.ts';
import type { Discovery } from './discovery.ts';
import type { DpopKeys } from './dpop.ts';
import { clientAuthentication } from './client-assertion.ts';
import { enterpriseGrant } from './enterprise.ts';
import type { EnterpriseOptions } from './enterprise.ts';
import { renewalOptions } from './jwt-bearer.ts';
import type { AssertionGrant } from './jwt-bearer.ts';
import { workloadGrant } from './workload-grant.ts';
import { ScopeRequired, TokenRejected, connect, listTools } from './mcp.ts';
import type { McpSession } from './mcp.ts';
import { clientInformation, ensureClient, machineClient } from './register.ts';
import type { PreRegistered } from './register.ts';
import { clientCredentialsGrant, describe, exchangeCode, isExpired, refresh, summarize, toStored } from './tokens.ts';

/** Step-up re-authorizations per command (403 insufficient_scope), before giving up. */
export const MAX_STEP_UPS = 2;

export interface FlowOptions {
  trace: Trace;
  store: Store;
  noBrowser: boolean;
  timeoutMs: number;
  scope?: string | undefined;
  preRegistered?: PreRegistered | undefined;
  /** --client-metadata-url: used as client_id where the AS accepts Client ID Metadata Documents. */
  clientMetadataUrl?: string | undefined;
  /** --redirect-uri: the loopback redirect URI of --client-id or of the Client ID Metadata Document. */
  redirectUri?: string | undefined;
  /** --client-credentials: machine client, client_credentials grant, no browser. */
  clientCredentials?: boolean;
  /** --workload-token-file: the JWT bearer grant with the workload's platform-issued JWT (workload-grant.ts). */
  workloadTokenFile?: string | undefined;
  /** --enterprise-idp: sign-in at the enterprise IdP, ID-JAG, JWT bearer grant (enterprise.ts). */
  enterprise?: EnterpriseOptions | undefined;
  newClient?: boolean;
  maxStepUps?: number;
  /** --no-dpop: Bearer tokens even where the AS offers DPoP. */
  noDpop?: boolean;
  /** This run's DPoP keys and nonces, one per authorization server. */
  dpop: DpopKeys;
}

export interface Access {
  issuer: string;
  resource: string;
  accessToken: string;
  /** `Bearer` or `DPoP` (RFC 9449 §5: a DPoP-bound token is sent with proofs). */
  tokenType: string;
  scope: string | undefined;
  hasRefreshToken: boolean;
  via: 'stored' | 'refreshed' | 'login' | 'client_credentials' | 'jwt_bearer';
}

/**
 * Step 1 when the plain probe draws no 401: an MCP session without a token (connect, then
 * tools/list), as any MCP client would open it; the first 401/403 challenge it meets.
 */
export async function sessionProbe(serverUrl: URL, trace: Trace): Promise<Challenge | undefined> {
  let session: McpSession | undefined;
  try {
    session = await connect(serverUrl, undefined, trace);
    await listTools(session);
    return undefined;
  } catch (error) {
    if (error instanceof TokenRejected || error instanceof ScopeRequired) return error.challenge;
    if (error instanceof CliError && error.code === 'unreachable') throw error;
    return undefined;
  } finally {
    await session?.close();
  }
}

export interface LoginFrom {
  /** Discovery already done. */
  discovered?: Discovery | undefined;
  /** The 401/403 challenge an MCP request drew (no probe then). */
  challenge?: Challenge | undefined;
  /** Request exactly these scopes (step-up). */
  scope?: string | undefined;
}

/** Discovery for a login: from a challenge in hand, else probe (with the session fallback). */
export function discoverFor(options: FlowOptions, serverUrl: URL, challenge?: Challenge): Promise<Discovery> {
  // Only a browser login at the AS needs its authorization endpoint and PKCE.
  const userLogin = !options.clientCredentials && !options.workloadTokenFile && !options.enterprise;
  return discover(serverUrl, options.trace, { challenge, sessionProbe, requirePkce: userLogin });
}

/**
 * Steps 1–6: discovery, registration, browser authorization, code exchange; tokens stored
 * under the issuer. With --client-credentials: discovery, then the client_credentials grant.
 */
export async function login(options: FlowOptions, serverUrl: URL, from: LoginFrom = {}): Promise<Access> {
  const { trace, store } = options;
  const d = from.discovered ?? (await discoverFor(options, serverUrl, from.challenge));
  if (options.clientCredentials) return clientCredentialsLogin(options, serverUrl, d, from.scope);
  if (options.workloadTokenFile) return jwtBearerLogin(options, serverUrl, d, await workloadGrant(options, d, from.scope));
  if (options.enterprise) return jwtBearerLogin(options, serverUrl, d, await enterpriseGrant(options, d, from.scope));
  const issuer = d.as.issuer;
  const metadata = d.as.metadata;

  if (options.newClient && !options.preRegistered) await store.forgetClient(issuer);
  // Steps 4 and 5 share the redirect URI: the client is registered with the one the callback listens on.
  const state = newState();
  const { client, source, callback } = await ensureClient({
    store,
    issuer,
    metadata,
    preRegistered: options.preRegistered,
    clientMetadataUrl: options.clientMetadataUrl,
    redirectUri: options.redirectUri,
    expect: {
      state,
      expectedIssuer: issuer,
      issParameterSupported: metadata.authorization_response_iss_parameter_supported === true,
      timeoutMs: options.timeoutMs,
    },
    trace,
  });

  const { scope, source: scopeSource } = selectScope({
    override: from.scope ?? options.scope,
    challengeScope: d.challenge.scope,
    scopesSupported: d.prm?.metadata.scopes_supported,
    asScopesSupported: metadata.scopes_supported,
  });

  // Step 5: authorization request + loopback callback.
  let start = performance.now();
  let code: string;
  let iss: string | undefined;
  let codeVerifier: string;
  try {
    const built = await buildAuthorizationUrl({ issuer, metadata, client, redirectUri: callback.redirectUri, scope, state, resource: d.resourceParameter });
    codeVerifier = built.codeVerifier;
    const opened = options.noBrowser ? false : await openBrowser(built.authorizationUrl);
    trace.step(
      'authorization_url',
      {
        authorizationUrl: built.authorizationUrl.href,
        redirectUri: callback.redirectUri,
        scope,
        scopeSource,
        resource: d.resourceParameter,
        codeChallengeMethod: 'S256',
        browser: opened ? 'opened' : 'not_opened',
        timeoutSeconds: Math.round(options.timeoutMs / 1000),
        ms: since(start),
      },
      `${opened ? 'opened in your browser' : 'open this URL in a browser to continue'}:\n    ${built.authorizationUrl.href}`,
    );
    start = performance.now();
    ({ code, iss } = await waitForBrowser(callback, trace, options.timeoutMs));
  } finally {
    await callback.close();
  }
  trace.step(
    'callback',
    { redirectUri: callback.redirectUri, state: 'ok', iss: iss ?? null, issChecked: iss !== undefined, ms: since(start) },
    `authorization code received; state ok; ${iss !== undefined ? `iss=${iss} ok` : 'no iss (not advertised by the AS)'}`,
  );

  // Step 6: code exchange.
  const dpop = await options.dpop.forTokenRequest(issuer, metadata.dpop_signing_alg_values_supported, d);
  const clientAuth = await clientAuthentication(issuer, (await store.read(issuer)).client, trace, metadata);
  start = performance.now();
  let tokens;
  try {
    tokens = await exchangeCode({
      issuer,
      metadata,
      client,
      code,
      iss,
      codeVerifier,
      redirectUri: callback.redirectUri,
      resource: d.resourceParameter,
      dpop,
      clientAuth,
      trace,
    });
  } catch (error) {
    if (error instanceof CliError && error.code === 'invalid_client' && (source === 'dcr' || source === 'stored')) {
      await store.forgetClient(issuer);
      throw new CliError(error.code, error.message, { hint: 'The stored client registration was dropped; run login again to register anew.', cause: error });
    }
    throw error;
  }
  const summary = summarize(tokens, dpop);
  trace.step('token', { endpoint: metadata.token_endpoint, ...summary, ms: since(start) }, describe(summary));
  const stored = toStored(tokens, scope);
  await saveForResource(options, serverUrl, d, 'authorization_code', stored);
  return accessFrom(issuer, d.resource, stored, 'login');
}

/** What an operation needs of the tokens just obtained or found, and where they came from. */
function accessFrom(issuer: string, resource: string, tokens: StoredTokens, via: Access['via']): Access {
  return {
    issuer,
    resource,
    accessToken: tokens.access_token,
    tokenType: tokens.token_type,
    scope: tokens.scope,
    hasRefreshToken: Boolean(tokens.refresh_token),
    via,
  };
}

/** Stores the tokens under their issuer, and forgets what other issuers held for the resource. */
async function saveForResource(
  options: FlowOptions,
  serverUrl: URL,
  d: Discovery,
  grant: NonNullable<ResourceEntry['grant']>,
  tokens: ReturnType<typeof toStored>,
  extra: Partial<ResourceEntry> = {},
): Promise<void> {
  const { store, trace } = options;
  await store.saveTokens(d.as.issuer, {
    resource: d.resource,
    server_url: serverUrl.href,
    ...(d.prm?.url ? { resource_metadata_url: d.prm.url } : {}),
    grant,
    ...(d.mode === 'rfc9728' ? {} : { discovery: d.mode, resource_parameter: d.resourceParameter !== undefined }),
    ...extra,
    tokens,
  });
  const cleared = await store.deleteTokensElsewhere(d.as.issuer, d.resource);
  if (cleared.length) trace.note(`${d.resource} is now protected by ${d.as.issuer}: forgot the tokens from ${cleared.join(', ')}`);
}

/** A token from the JWT bearer grant (a workload's JWT, or an ID-JAG), stored with where its next assertion comes from. */
async function jwtBearerLogin(options: FlowOptions, serverUrl: URL, d: Discovery, grant: AssertionGrant): Promise<Access> {
  const stored = toStored(grant.tokens, grant.scope);
  await saveForResource(options, serverUrl, d, 'jwt-bearer', stored, grant.entry);
  return accessFrom(d.as.issuer, d.resource, stored, 'jwt_bearer');
}

/** The client_credentials grant (machine clients): pre-registered confidential client, no user. */
async function clientCredentialsLogin(options: FlowOptions, serverUrl: URL, d: Discovery, scopeOverride: string | undefined): Promise<Access> {
  const { trace, store } = options;
  const issuer = d.as.issuer;
  const metadata = d.as.metadata;
  const grants = metadata.grant_types_supported;
  if (grants && !grants.includes('client_credentials')) {
    throw new CliError(
      'grant_unsupported',
      `The authorization server ${issuer} does not offer the client_credentials grant (grant_types_supported: ${JSON.stringify(grants)}).`,
      {
        hint: 'Drop --client-credentials to log in as a user in the browser, or ask the AS operator to enable client_credentials for your client.',
      },
    );
  }
  let preRegistered = options.preRegistered;
  if (!preRegistered) {
    const stored = (await store.read(issuer)).client;
    if (stored?.source === 'pre-registered' && stored.client_secret) preRegistered = { clientId: stored.client_id, clientSecret: stored.client_secret };
    else if (stored?.source === 'pre-registered' && stored.client_key_file) {
      preRegistered = {
        clientId: stored.client_id,
        clientKeyFile: stored.client_key_file,
        ...(stored.client_key_alg ? { clientKeyAlg: stored.client_key_alg } : {}),
      };
    }
  }
  if (!preRegistered?.clientSecret && !preRegistered?.clientKeyFile) {
    throw new CliError(
      'usage',
      '--client-credentials needs a confidential pre-registered client: --client-id and a secret (--client-secret or MCP_CLIENT_SECRET) or --client-key.',
      {
        hint: `Register a machine client with ${issuer} (grant client_credentials) and pass its credentials.`,
        exitCode: 2,
      },
    );
  }
  const client = await machineClient({ store, issuer, preRegistered, trace });
  const { scope } = selectScope({
    override: scopeOverride ?? options.scope,
    challengeScope: d.challenge.scope,
    scopesSupported: d.prm?.metadata.scopes_supported,
    // no offline_access: a machine client asks again instead of refreshing
  });
  const dpop = await options.dpop.forTokenRequest(issuer, metadata.dpop_signing_alg_values_supported, d);
  const clientAuth = await clientAuthentication(issuer, (await store.read(issuer)).client, trace, metadata);
  const start = performance.now();
  const { tokens, authMethod } = await clientCredentialsGrant({ metadata, client, scope, resource: d.resourceParameter, dpop, clientAuth, trace });
  const summary = summarize(tokens, dpop);
  trace.step(
    'token',
    { grantType: 'client_credentials', endpoint: metadata.token_endpoint, authMethod, ...summary, ms: since(start) },
    `client_credentials (${authMethod}): ${describe(summary)}`,
  );
  const stored = toStored(tokens, scope);
  await saveForResource(options, serverUrl, d, 'client_credentials', stored);
  return accessFrom(issuer, d.resource, stored, 'client_credentials');
}

/** Refreshes the stored tokens for a server; undefined if that is not possible. */
async function tryRefresh(options: FlowOptions, serverUrl: URL, metadata?: AuthorizationServerMetadata): Promise<Access | undefined> {
  const { trace, store } = options;
  const found = await store.findByServer(serverUrl.href);
  if (!found?.entry.tokens.refresh_token || !found.client) return undefined;
  const as = metadata ?? (await storedAuthorizationServer(found.issuer, found.entry, trace)).metadata;
  // A DPoP-bound token is refreshed with the key it was bound to (a public client's refresh
  // token is bound too, RFC 9449 §5); a Bearer one stays Bearer.
  const dpop = await options.dpop.forToken(found.issuer, found.entry.tokens.token_type);
  const start = performance.now();
  try {
    const tokens = await refresh({
      issuer: found.issuer,
      metadata: as,
      client: clientInformation(found.client),
      refreshToken: found.entry.tokens.refresh_token,
      resource: storedResourceParameter(found.entry),
      dpop,
      clientAuth: await clientAuthentication(found.issuer, found.client, trace, as),
      trace,
    });
    const summary = summarize(tokens, dpop);
    trace.step('refresh', { refreshed: true, endpoint: as.token_endpoint, ...summary, ms: since(start) }, describe(summary));
    const stored = toStored(tokens, found.entry.tokens.scope);
    await store.saveTokens(found.issuer, { ...found.entry, tokens: stored });
    return accessFrom(found.issuer, found.entry.resource, stored, 'refreshed');
  } catch (error) {
    if (!(error instanceof CliError) || error.code === 'unreachable') throw error;
    trace.step('refresh', { refreshed: false, error: error.code, message: error.message, ms: since(start) }, `${error.message} Logging in again.`, false);
    await store.deleteTokens(found.issuer, found.entry.resource);
    if (error.code === 'invalid_client' && found.client.source === 'dcr') await store.forgetClient(found.issuer);
    return undefined;
  }
}

/**
 * The stored access token for the server, refreshed first when it is within 30 s of
 * expiry (or a client_credentials token requested anew); undefined when there is none —
 * the operation then goes out without a token and the server's 401 starts a login.
 */
export async function storedAccess(options: FlowOptions, serverUrl: URL): Promise<Access | undefined> {
  const { trace, store } = options;
  const start = performance.now();
  const found = await store.findByServer(serverUrl.href);
  if (!found) {
    trace.step('stored_token', { found: false, ms: since(start) }, `none for ${serverUrl.href}: asking the server without a token`, false);
    return undefined;
  }
  const tokens = found.entry.tokens;
  const expired = isExpired(tokens);
  trace.step(
    'stored_token',
    {
      found: true,
      issuer: found.issuer,
      resource: found.entry.resource,
      grant: found.entry.grant,
      scope: tokens.scope,
      expiresAt: tokens.expires_at ? new Date(tokens.expires_at).toISOString() : undefined,
      expired,
      refreshToken: Boolean(tokens.refresh_token),
      file: store.pathFor(found.issuer),
      ms: since(start),
    },
    `issuer=${found.issuer} scope="${tokens.scope ?? ''}" ${expired ? 'EXPIRED' : tokens.expires_at ? `valid until ${new Date(tokens.expires_at).toISOString()}` : 'no expiry recorded'}${tokens.refresh_token ? ', refresh token stored' : ''}`,
    !expired,
  );
  if (!expired) {
    return accessFrom(found.issuer, found.entry.resource, tokens, 'stored');
  }
  if (found.entry.grant === 'client_credentials' && !tokens.refresh_token) {
    await store.deleteTokens(found.issuer, found.entry.resource);
    return login({ ...options, clientCredentials: true }, serverUrl);
  }
  if (found.entry.grant === 'jwt-bearer' && !tokens.refresh_token) {
    const renewal = renewalOptions(options, found.entry);
    await store.deleteTokens(found.issuer, found.entry.resource);
    return login(renewal, serverUrl);
  }
  return tryRefresh(options, serverUrl);
}

/**
 * Runs `operation` in an MCP session, reacting to what the server answers:
 * - 401 without a token: log in from that challenge, retry;
 * - 401 on a stored token: refresh it (or log in), retry;
 * - 401 on a token just issued: discover again; if the resource now names another
 *   authorization server, log in there (new registration, nothing reused), else stop;
 * - 403 insufficient_scope: re-authorize with the union of the held and the challenged
 *   scopes, at most `maxStepUps` times, and not at all when that union adds nothing.
 */
export async function withMcp<T>(
  options: FlowOptions,
  serverUrl: URL,
  operation: (session: McpSession) => Promise<T>,
  access?: Access,
): Promise<{ value: T; access: Access | undefined }> {
  const { trace, store } = options;
  const maxStepUps = options.maxStepUps ?? MAX_STEP_UPS;
  let current = access ?? (await storedAccess(options, serverUrl));
  let stepUps = 0;
  let refreshed = false;
  // Bounded: each pass either returns, throws, or changes the token under a rule that can fire only a few times.
  for (let attempt = 0; attempt < 3 + maxStepUps + 2; attempt++) {
    const start = performance.now();
    let session: McpSession | undefined;
    try {
      const dpop = current ? await options.dpop.forToken(current.issuer, current.tokenType) : undefined;
      session = await connect(serverUrl, current?.accessToken, trace, dpop);
      trace.step(
        'mcp_connect',
        {
          url: serverUrl.href,
          authorized: Boolean(current),
          ...(dpop ? { dpopJkt: dpop.thumbprint } : {}),
          protocolVersion: session.protocolVersion,
          era: session.era,
          ms: since(start),
        },
        `connected ${current ? (dpop ? 'with the DPoP-bound token (a fresh proof on every request)' : 'with the token') : 'without a token'}; protocol ${session.protocolVersion ?? '?'} (${session.era ?? '?'} era)`,
      );
      const value = await operation(session);
      return { value, access: current };
    } catch (error) {
      if (error instanceof TokenRejected) {
        if (!current) {
          current = await login(options, serverUrl, { challenge: error.challenge });
          continue;
        }
        trace.step(
          'token_rejected',
          { status: 401, via: current.via, error: error.challenge?.error, errorDescription: error.challenge?.errorDescription, ms: since(start) },
          `the server rejected the ${current.via === 'stored' ? 'stored' : current.via === 'refreshed' ? 'refreshed' : 'new'} token (401${error.challenge?.error ? ` ${error.challenge.error}` : ''})`,
          false,
        );
        if (current.via === 'stored' && current.hasRefreshToken && !refreshed) {
          refreshed = true;
          const next = await tryRefresh(options, serverUrl);
          if (next) {
            current = next;
            continue;
          }
        }
        if (current.via === 'login' || current.via === 'client_credentials' || current.via === 'jwt_bearer') {
          // A token the AS has just issued was refused: has the resource moved to another AS?
          const d = await discoverFor(options, serverUrl, error.challenge);
          if (d.as.issuer === current.issuer) {
            throw new CliError(
              'token_rejected',
              `${serverUrl.href} rejected a token that ${current.issuer} has just issued for it (401${error.challenge?.error ? ` ${error.challenge.error}` : ''}${error.challenge?.errorDescription ? `: ${error.challenge.errorDescription}` : ''}).`,
              {
                hint: 'The resource server and the authorization server disagree (audience, issuer, signing keys or clock); check their configuration. Logging in again will not help.',
              },
            );
          }
          trace.note(`${d.resource} moved from ${current.issuer} to ${d.as.issuer}: registering and logging in there`);
          current = await login(options, serverUrl, { discovered: d });
          continue;
        }
        // A stored jwt-bearer token is renewed as it was obtained (the workload's JWT read anew), once.
        const renewal = renewalOptions(options, (await store.findByServer(serverUrl.href))?.entry);
        await store.deleteTokens(current.issuer, current.resource).catch(() => {});
        current = await login(renewal, serverUrl, { challenge: error.challenge });
        continue;
      }
      if (error instanceof ScopeRequired && error.requiredScope) {
        const held = current?.scope;
        const wanted = computeScopeUnion(held, error.requiredScope);
        if (held && !isStrictScopeSuperset(wanted, held)) {
          trace.step(
            'step_up',
            { status: 403, requiredScope: error.requiredScope, currentScope: held, stepUps, ms: since(start) },
            `the server needs scope "${error.requiredScope}", which the token already has: not re-authorizing`,
            false,
          );
          throw new CliError(
            'insufficient_scope',
            `${serverUrl.href} refuses this with 403 insufficient_scope ("${error.requiredScope}") although the token already carries "${held}".`,
            {
              hint: 'Re-authorizing would not change anything: the server wants a permission your account or client does not get. Ask the server operator.',
              cause: error,
            },
          );
        }
        if (stepUps >= maxStepUps) {
          trace.step(
            'step_up',
            { status: 403, requiredScope: error.requiredScope, currentScope: held, stepUps, limit: maxStepUps, ms: since(start) },
            `the server still needs scope "${error.requiredScope}" after ${stepUps} step-up(s): giving up`,
            false,
          );
          throw new CliError(
            'step_up_limit',
            `${serverUrl.href} still answers 403 insufficient_scope ("${error.requiredScope}") after ${stepUps} step-up authorization(s); stopping (limit ${maxStepUps}).`,
            {
              hint: 'The authorization server does not grant the scope the server asks for; check what your account may have, or ask the server operator.',
              cause: error,
            },
          );
        }
        stepUps++;
        trace.step(
          'step_up',
          { status: 403, requiredScope: error.requiredScope, currentScope: held, requestScope: wanted, stepUp: stepUps, limit: maxStepUps, ms: since(start) },
          `the server needs scope "${error.requiredScope}": authorizing again with "${wanted}" (step-up ${stepUps}/${maxStepUps})`,
          false,
        );
        current = await login(options, serverUrl, { challenge: error.challenge, scope: wanted });
        continue;
      }
      throw error;
    } finally {
      await session?.close();
    }
  }
  throw new CliError('too_many_attempts', `Gave up on ${serverUrl.href} after repeated authorization attempts.`, {
    hint: 'Run again with --verbose to see every exchange.',
  });
}
