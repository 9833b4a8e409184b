/**
 * Step 6: tokens — code exchange, refresh, revocation (RFC 7009), and what may be shown.
 * Token values never leave this module except into the store and the Authorization header.
 */
import { OAuthError, exchangeAuthorization, refreshAuthorization, selectClientAuthMethod } from '@modelcontextprotocol/client';
import type { AddClientAuthentication, AuthorizationServerMetadata, DpopSession, OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import type { StoredTokens } from '../store.ts';
import type { Trace } from '../trace.ts';
import { printable } from './authorize.ts';
import type { AsMetadata } from './discover.ts';
import { isDpopTokenType } from './dpop.ts';

/** Refresh this long before the recorded expiry. */
export const EXPIRY_SKEW_MS = 30_000;

/** What may be displayed about a token response: never the tokens. */
export interface TokenSummary {
  tokenType: string;
  expiresIn: number | undefined;
  scope: string | undefined;
  refreshToken: boolean;
  /** The thumbprint of the DPoP key a DPoP-bound token is bound to (its `cnf.jkt`). */
  dpopJkt?: string;
}

export function summarize(tokens: OAuthTokens, dpop?: DpopSession): TokenSummary {
  return {
    tokenType: tokens.token_type,
    expiresIn: tokens.expires_in,
    scope: tokens.scope,
    refreshToken: Boolean(tokens.refresh_token),
    ...(dpop && isDpopTokenType(tokens.token_type) ? { dpopJkt: dpop.thumbprint } : {}),
  };
}

export function describe(summary: TokenSummary): string {
  return `token_type=${summary.tokenType}${summary.dpopJkt ? ` (bound to key ${summary.dpopJkt})` : ''} expires_in=${summary.expiresIn ?? '?'}s scope="${summary.scope ?? '(not stated)'}" refresh_token=${summary.refreshToken ? 'yes' : 'no'}`;
}

export function toStored(tokens: OAuthTokens, requestedScope: string | undefined, now = Date.now()): StoredTokens {
  const scope = tokens.scope ?? requestedScope; // RFC 6749 §5.1: absent scope = as requested
  return {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
    ...(scope ? { scope } : {}),
    ...(tokens.expires_in !== undefined ? { expires_at: now + tokens.expires_in * 1000 } : {}),
    obtained_at: new Date(now).toISOString(),
  };
}

export function isExpired(tokens: StoredTokens, now = Date.now()): boolean {
  return tokens.expires_at !== undefined && tokens.expires_at - EXPIRY_SKEW_MS <= now;
}

/** An OAuth error from the token endpoint, as a CliError with the AS's own words. */
export function tokenError(what: string, error: unknown, endpoint: string | undefined): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof OAuthError) {
    return new CliError(
      error.code === 'invalid_grant' ? 'invalid_grant' : error.code === 'invalid_client' ? 'invalid_client' : 'token_error',
      `${what} was refused by the authorization server: ${printable(error.code, 80)}${error.message ? ` — ${printable(error.message)}` : ''}.`,
      { hint: 'Run `mcp-client login <url>` again.', cause: error },
    );
  }
  if (isNetworkError(error)) return unreachable('authorization server token endpoint', endpoint ?? '(token endpoint)', error);
  return new CliError('token_error', `${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

export async function exchangeCode(options: {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  code: string;
  iss: string | undefined;
  codeVerifier: string;
  redirectUri: string;
  /** RFC 8707; undefined only where the AS is not known to take it (2025-03-26 discovery). */
  resource: string | undefined;
  /** RFC 9449: a proof on the request, for a DPoP-bound token. */
  dpop: DpopSession | undefined;
  /** private_key_jwt (client-assertion.ts): a fresh assertion per request instead of the secret. */
  clientAuth?: AddClientAuthentication | undefined;
  trace: Trace;
}): Promise<OAuthTokens> {
  try {
    return await exchangeAuthorization(options.issuer, {
      metadata: options.metadata,
      clientInformation: options.client,
      authorizationCode: options.code,
      iss: options.iss,
      codeVerifier: options.codeVerifier,
      redirectUri: options.redirectUri,
      resource: options.resource,
      ...(options.dpop ? { dpop: options.dpop } : {}),
      ...(options.clientAuth ? { addClientAuthentication: options.clientAuth } : {}),
      fetchFn: options.trace.fetch,
    });
  } catch (error) {
    throw tokenError('The code exchange', error, options.metadata.token_endpoint);
  }
}

export async function refresh(options: {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  refreshToken: string;
  /** RFC 8707; undefined only where the AS is not known to take it (2025-03-26 discovery). */
  resource: string | undefined;
  /** RFC 9449: the same key as at the code exchange (a public client's refresh token is bound to it, §5). */
  dpop: DpopSession | undefined;
  /** private_key_jwt (client-assertion.ts): a fresh assertion per request instead of the secret. */
  clientAuth?: AddClientAuthentication | undefined;
  trace: Trace;
}): Promise<OAuthTokens> {
  try {
    return await refreshAuthorization(options.issuer, {
      metadata: options.metadata,
      clientInformation: options.client,
      refreshToken: options.refreshToken,
      resource: options.resource,
      ...(options.dpop ? { dpop: options.dpop } : {}),
      ...(options.clientAuth ? { addClientAuthentication: options.clientAuth } : {}),
      fetchFn: options.trace.fetch,
    });
  } catch (error) {
    throw tokenError('The token refresh', error, options.metadata.token_endpoint);
  }
}

/**
 * Client authentication at a token-type endpoint (RFC 6749 §2.3.1), by the method the AS
 * supports: client_secret_basic (id and secret form-urlencoded before base64, as §2.3.1
 * says), client_secret_post, or just client_id for public clients.
 */
export function authenticateClient(client: OAuthClientInformationMixed, supported: string[], headers: Headers, params: URLSearchParams): string {
  const method = selectClientAuthMethod(client, supported);
  const { client_id: clientId, client_secret: clientSecret } = client as { client_id: string; client_secret?: string };
  if (method === 'client_secret_basic' && clientSecret) {
    const user = encodeURIComponent(clientId);
    const pass = encodeURIComponent(clientSecret);
    headers.set('authorization', `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`);
    return method;
  }
  if (method === 'client_secret_post' && clientSecret) {
    params.set('client_id', clientId);
    params.set('client_secret', clientSecret);
    return method;
  }
  params.set('client_id', clientId);
  return 'none';
}

/**
 * The client_credentials grant (RFC 6749 §4.4) for machine clients: no user, no browser;
 * audience-bound with `resource` (RFC 8707) like every other token request (unless 2025-03-26
 * discovery found an AS not known to take it).
 */
export async function clientCredentialsGrant(options: {
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  scope: string | undefined;
  resource: string | undefined;
  /** RFC 9449: a proof on the request, for a DPoP-bound token. */
  dpop?: DpopSession | undefined;
  /** private_key_jwt (client-assertion.ts): a fresh assertion per request instead of the secret. */
  clientAuth?: AddClientAuthentication | undefined;
  trace: Trace;
}): Promise<{ tokens: OAuthTokens; authMethod: string }> {
  const params = new URLSearchParams({ grant_type: 'client_credentials' });
  if (options.scope) params.set('scope', options.scope);
  if (options.resource) params.set('resource', options.resource);
  const { response, body, authMethod } = await postTokenRequest({ ...options, params });
  if (!response.ok) {
    const code = typeof body['error'] === 'string' ? body['error'] : `HTTP ${response.status}`;
    const description = typeof body['error_description'] === 'string' ? ` — ${printable(body['error_description'])}` : '';
    throw new CliError(
      code === 'invalid_client' ? 'invalid_client' : 'token_error',
      `The client_credentials token request was refused by the authorization server: ${printable(code, 80)}${description}.`,
      {
        hint:
          code === 'invalid_client'
            ? 'Check --client-id and the secret (--client-secret or MCP_CLIENT_SECRET) or --client-key, and that the client may use the client_credentials grant.'
            : code === 'unauthorized_client' || code === 'unsupported_grant_type'
              ? 'This client is not allowed the client_credentials grant at this authorization server; ask its operator.'
              : 'See the error above.',
      },
    );
  }
  return { tokens: tokensFrom(body, options.metadata.token_endpoint, response.status), authMethod };
}

/**
 * One token request of a grant the CLI sends itself (client_credentials, jwt-bearer): client
 * authentication (`clientAuth`, a fresh private_key_jwt assertion per attempt; else the
 * client's secret by the method the AS supports; else just client_id), a fresh DPoP proof per
 * attempt, and one retry on `use_dpop_nonce` (RFC 9449 §8), as the SDK does for the code and
 * refresh grants. The body is the parsed JSON object, or {} when the answer is not one.
 */
export async function postTokenRequest(options: {
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  clientAuth?: AddClientAuthentication | undefined;
  params: URLSearchParams;
  dpop?: DpopSession | undefined;
  trace: Trace;
}): Promise<{ response: Response; body: Record<string, unknown>; authMethod: string }> {
  const { metadata, trace } = options;
  const endpoint = metadata.token_endpoint;
  const base = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
  const params = new URLSearchParams(options.params);
  const authMethod = options.clientAuth
    ? 'private_key_jwt'
    : authenticateClient(options.client, metadata.token_endpoint_auth_methods_supported ?? [], base, params);
  const send = async (): Promise<{ response: Response; body: Record<string, unknown> }> => {
    // A client assertion and a DPoP proof are each good for one request (their jti).
    const headers = new Headers(base);
    const body = new URLSearchParams(params);
    if (options.clientAuth) await options.clientAuth(headers, body, endpoint, metadata);
    if (options.dpop) headers.set('dpop', await options.dpop.buildProof({ htm: 'POST', htu: endpoint }));
    let response: Response;
    try {
      response = await trace.fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw unreachable('authorization server token endpoint', endpoint, error);
    }
    options.dpop?.observeNonce(response, endpoint);
    const text = await response.text().catch(() => '');
    try {
      const parsed: unknown = JSON.parse(text);
      return { response, body: parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {} };
    } catch {
      return { response, body: {} };
    }
  };
  let { response, body } = await send();
  if (options.dpop && response.status === 400 && body['error'] === 'use_dpop_nonce' && response.headers.has('dpop-nonce')) ({ response, body } = await send());
  return { response, body, authMethod };
}

/** The tokens of a successful token response (RFC 6749 §5.1), or a CliError saying what is missing. */
export function tokensFrom(body: Record<string, unknown>, endpoint: string, status: number): OAuthTokens {
  if (typeof body['access_token'] !== 'string' || typeof body['token_type'] !== 'string') {
    throw new CliError('token_error', `The token endpoint ${endpoint} answered ${status} without an access_token and token_type.`);
  }
  return {
    access_token: body['access_token'],
    token_type: body['token_type'],
    ...(typeof body['expires_in'] === 'number' ? { expires_in: body['expires_in'] } : {}),
    ...(typeof body['scope'] === 'string' ? { scope: body['scope'] } : {}),
    ...(typeof body['refresh_token'] === 'string' ? { refresh_token: body['refresh_token'] } : {}),
  };
}

/**
 * RFC 7009 revocation of one token. Returns the HTTP status; 200 means revoked (or
 * already invalid — RFC 7009 §2.2 answers 200 for unknown tokens too).
 */
export async function revoke(options: {
  endpoint: string;
  metadata: AsMetadata;
  client: OAuthClientInformationMixed;
  token: string;
  hint: 'access_token' | 'refresh_token';
  /** private_key_jwt (client-assertion.ts), for a client with a key. */
  clientAuth?: AddClientAuthentication | undefined;
  trace: Trace;
}): Promise<number> {
  const params = new URLSearchParams({ token: options.token, token_type_hint: options.hint });
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
  const supported = options.metadata.revocation_endpoint_auth_methods_supported ?? options.metadata.token_endpoint_auth_methods_supported ?? [];
  if (options.clientAuth) await options.clientAuth(headers, params, options.endpoint, options.metadata);
  else authenticateClient(options.client, supported, headers, params);
  let response: Response;
  try {
    response = await options.trace.fetch(options.endpoint, { method: 'POST', headers, body: params, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw unreachable('authorization server revocation endpoint', options.endpoint, error);
  }
  await response.body?.cancel().catch(() => {});
  return response.status;
}
