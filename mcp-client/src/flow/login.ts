/**
 * The flow, assembled from the steps: interactive login (steps 1–6), getting a usable
 * access token for a server (stored → refreshed → login), and running MCP operations with
 * one retry on a rejected token (401) or a scope step-up (403 insufficient_scope).
 */
import { computeScopeUnion } from '@modelcontextprotocol/client';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/client';
import { CliError } from '../errors.ts';
import type { Store } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { buildAuthorizationUrl, newState, openBrowser, selectScope, startCallbackServer } from './authorize.ts';
import { discover, discoverAuthorizationServer } from './discover.ts';
import type { Discovery } from './discover.ts';
import { TokenRejected, ScopeRequired, connect } from './mcp.ts';
import type { McpSession } from './mcp.ts';
import { clientInformation, ensureClient } from './register.ts';
import type { PreRegistered } from './register.ts';
import { describe, exchangeCode, isExpired, refresh, summarize, toStored } from './tokens.ts';

export interface FlowOptions {
  trace: Trace;
  store: Store;
  noBrowser: boolean;
  timeoutMs: number;
  scope?: string | undefined;
  preRegistered?: PreRegistered | undefined;
  newClient?: boolean;
}

export interface Access {
  issuer: string;
  resource: string;
  accessToken: string;
  scope: string | undefined;
  hasRefreshToken: boolean;
  via: 'stored' | 'refreshed' | 'login';
}

/** Steps 1–6: discovery, registration, browser authorization, code exchange; tokens stored. */
export async function login(options: FlowOptions, serverUrl: URL, discovered?: Discovery, scopeOverride?: string): Promise<Access> {
  const { trace, store } = options;
  const d = discovered ?? (await discover(serverUrl, trace));
  const issuer = d.as.issuer;
  const metadata = d.as.metadata;

  if (options.newClient && !options.preRegistered) await store.forgetClient(issuer);
  const { client, source } = await ensureClient({ store, issuer, metadata, preRegistered: options.preRegistered, trace });

  const { scope, source: scopeSource } = selectScope({
    override: scopeOverride ?? options.scope,
    challengeScope: d.challenge.scope,
    scopesSupported: d.prm.metadata.scopes_supported,
    asScopesSupported: metadata.scopes_supported,
  });

  // Step 5: authorization request + loopback callback.
  let start = performance.now();
  const state = newState();
  const callback = await startCallbackServer({
    state,
    expectedIssuer: issuer,
    issParameterSupported: metadata.authorization_response_iss_parameter_supported === true,
    timeoutMs: options.timeoutMs,
  });
  let code: string;
  let iss: string | undefined;
  let codeVerifier: string;
  try {
    const built = await buildAuthorizationUrl({ issuer, metadata, client, redirectUri: callback.redirectUri, scope, state, resource: d.prm.resource });
    codeVerifier = built.codeVerifier;
    const opened = options.noBrowser ? false : await openBrowser(built.authorizationUrl);
    trace.step(
      'authorization_url',
      {
        authorizationUrl: built.authorizationUrl.href,
        redirectUri: callback.redirectUri,
        scope,
        scopeSource,
        resource: d.prm.resource,
        codeChallengeMethod: 'S256',
        browser: opened ? 'opened' : 'not_opened',
        timeoutSeconds: Math.round(options.timeoutMs / 1000),
        ms: since(start),
      },
      `${opened ? 'opened in your browser' : 'open this URL in a browser to continue'}:\n    ${built.authorizationUrl.href}`,
    );
    start = performance.now();
    const spinner = trace.spinner(`Waiting for the browser to come back to ${callback.redirectUri} (timeout ${Math.round(options.timeoutMs / 1000)} s)…`);
    try {
      ({ code, iss } = await callback.result);
    } finally {
      spinner.stop();
    }
  } finally {
    await callback.close();
  }
  trace.step(
    'callback',
    { redirectUri: callback.redirectUri, state: 'ok', iss: iss ?? null, issChecked: iss !== undefined, ms: since(start) },
    `authorization code received; state ok; ${iss !== undefined ? `iss=${iss} ok` : 'no iss (not advertised by the AS)'}`,
  );

  // Step 6: code exchange.
  start = performance.now();
  let tokens;
  try {
    tokens = await exchangeCode({ issuer, metadata, client, code, iss, codeVerifier, redirectUri: callback.redirectUri, resource: d.prm.resource, trace });
  } catch (error) {
    if (error instanceof CliError && error.code === 'invalid_client' && source !== 'pre-registered') {
      await store.forgetClient(issuer);
      throw new CliError(error.code, error.message, { hint: 'The stored client registration was dropped; run login again to register anew.', cause: error });
    }
    throw error;
  }
  const summary = summarize(tokens);
  trace.step('token', { endpoint: metadata.token_endpoint, ...summary, ms: since(start) }, describe(summary));
  const stored = toStored(tokens, scope);
  await store.saveTokens(issuer, {
    resource: d.prm.resource,
    server_url: serverUrl.href,
    ...(d.prm.url ? { resource_metadata_url: d.prm.url } : {}),
    tokens: stored,
  });
  return { issuer, resource: d.prm.resource, accessToken: stored.access_token, scope: stored.scope, hasRefreshToken: Boolean(stored.refresh_token), via: 'login' };
}

/** Refreshes the stored tokens for a server; undefined if that is not possible. */
async function tryRefresh(options: FlowOptions, serverUrl: URL, metadata?: AuthorizationServerMetadata): Promise<Access | undefined> {
  const { trace, store } = options;
  const found = await store.findByServer(serverUrl.href);
  if (!found?.entry.tokens.refresh_token || !found.client) return undefined;
  const as = metadata ?? (await discoverAuthorizationServer(found.issuer, trace)).metadata;
  const start = performance.now();
  try {
    const tokens = await refresh({
      issuer: found.issuer,
      metadata: as,
      client: clientInformation(found.client),
      refreshToken: found.entry.tokens.refresh_token,
      resource: found.entry.resource,
      trace,
    });
    const summary = summarize(tokens);
    trace.step('refresh', { refreshed: true, endpoint: as.token_endpoint, ...summary, ms: since(start) }, describe(summary));
    const stored = toStored(tokens, found.entry.tokens.scope);
    await store.saveTokens(found.issuer, { ...found.entry, tokens: stored });
    return { issuer: found.issuer, resource: found.entry.resource, accessToken: stored.access_token, scope: stored.scope, hasRefreshToken: Boolean(stored.refresh_token), via: 'refreshed' };
  } catch (error) {
    if (!(error instanceof CliError) || error.code === 'unreachable') throw error;
    trace.step('refresh', { refreshed: false, error: error.code, message: error.message, ms: since(start) }, `${error.message} Logging in again.`, false);
    await store.deleteTokens(found.issuer, found.entry.resource);
    if (error.code === 'invalid_client' && found.client.source === 'dcr') await store.forgetClient(found.issuer);
    return undefined;
  }
}

/** A usable access token for the server: stored, else refreshed, else a fresh login. */
export async function ensureAccess(options: FlowOptions, serverUrl: URL): Promise<Access> {
  const { trace, store } = options;
  const start = performance.now();
  const found = await store.findByServer(serverUrl.href);
  if (!found) {
    trace.step('stored_token', { found: false, ms: since(start) }, `none for ${serverUrl.href}: logging in`, false);
    return login(options, serverUrl);
  }
  const tokens = found.entry.tokens;
  const expired = isExpired(tokens);
  trace.step(
    'stored_token',
    {
      found: true,
      issuer: found.issuer,
      resource: found.entry.resource,
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
    return { issuer: found.issuer, resource: found.entry.resource, accessToken: tokens.access_token, scope: tokens.scope, hasRefreshToken: Boolean(tokens.refresh_token), via: 'stored' };
  }
  return (await tryRefresh(options, serverUrl)) ?? login(options, serverUrl);
}

/**
 * Runs `operation` in an MCP session authorized with `access` (or whatever ensureAccess
 * finds), retrying once after a 401 (refresh, else login) or a 403 insufficient_scope
 * (login with the union of the granted and the required scopes).
 */
export async function withMcp<T>(options: FlowOptions, serverUrl: URL, operation: (session: McpSession) => Promise<T>, access?: Access): Promise<{ value: T; access: Access }> {
  const { trace } = options;
  let current = access ?? (await ensureAccess(options, serverUrl));
  for (let attempt = 0; ; attempt++) {
    const start = performance.now();
    let session: McpSession | undefined;
    try {
      session = await connect(serverUrl, current.accessToken, trace);
      trace.step('mcp_connect', { url: serverUrl.href, protocolVersion: session.protocolVersion, era: session.era, ms: since(start) }, `connected with the token; protocol ${session.protocolVersion ?? '?'} (${session.era ?? '?'} era)`);
      const value = await operation(session);
      return { value, access: current };
    } catch (error) {
      if (attempt > 0) throw error;
      if (error instanceof TokenRejected && current.via !== 'login') {
        trace.step('token_rejected', { status: 401, via: current.via, ms: since(start) }, 'the server rejected the stored token (401)', false);
        let next: Access | undefined;
        if (current.via === 'stored' && current.hasRefreshToken) next = await tryRefresh(options, serverUrl);
        if (!next) {
          await options.store.deleteTokens(current.issuer, current.resource).catch(() => {});
          next = await login(options, serverUrl);
        }
        current = next;
        continue;
      }
      if (error instanceof ScopeRequired && error.requiredScope) {
        const wanted = computeScopeUnion(current.scope, error.requiredScope);
        trace.step('step_up', { status: 403, requiredScope: error.requiredScope, currentScope: current.scope, requestScope: wanted, ms: since(start) }, `the server needs scope "${error.requiredScope}": authorizing again with "${wanted}"`, false);
        current = await login(options, serverUrl, undefined, wanted);
        continue;
      }
      throw error;
    } finally {
      await session?.close();
    }
  }
}
