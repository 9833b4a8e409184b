/**
 * Step 4: a client identity at the authorization server.
 *
 * Priority (MCP authorization spec, "Client Registration"): pre-registered credentials
 * (--client-id/--client-secret), then a registration stored for this issuer, then
 * Dynamic Client Registration (RFC 7591). Client ID Metadata Documents need an HTTPS
 * URL we host, which a CLI on a laptop does not have, so they are not used.
 *
 * The registered redirect URI is the loopback URI without a port: the AS matches
 * loopback redirect URIs on any port (RFC 8252 §7.3), so one registration serves every
 * run, whatever ephemeral port the callback server gets.
 */
import { RegistrationRejectedError, registerClient } from '@modelcontextprotocol/client';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed, OAuthClientMetadata } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import type { Store, StoredClient } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';

export const CLIENT_NAME = 'mcp-client';
export const REGISTERED_REDIRECT_URI = 'http://127.0.0.1/callback';

/** The RFC 7591 registration request body. */
export function registrationMetadata(): OAuthClientMetadata {
  return {
    client_name: CLIENT_NAME,
    application_type: 'native',
    redirect_uris: [REGISTERED_REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

export interface PreRegistered {
  clientId: string;
  clientSecret?: string;
}

export interface ClientResult {
  client: OAuthClientInformationMixed;
  source: 'pre-registered' | 'stored' | 'dcr';
}

/** The stored form → what the SDK token functions take. */
export function clientInformation(stored: StoredClient): OAuthClientInformationMixed {
  return {
    client_id: stored.client_id,
    ...(stored.client_secret ? { client_secret: stored.client_secret } : {}),
    ...(stored.client_secret_expires_at !== undefined ? { client_secret_expires_at: stored.client_secret_expires_at } : {}),
    ...(stored.redirect_uris ? { redirect_uris: stored.redirect_uris } : {}),
    ...(stored.token_endpoint_auth_method ? { token_endpoint_auth_method: stored.token_endpoint_auth_method } : {}),
  } as OAuthClientInformationMixed;
}

function usable(stored: StoredClient | undefined): stored is StoredClient {
  if (!stored) return false;
  // RFC 7591 §3.2.1: 0 means the secret does not expire.
  const expiresAt = stored.client_secret_expires_at;
  return !(stored.client_secret && expiresAt && expiresAt * 1000 <= Date.now());
}

export async function ensureClient(options: {
  store: Store;
  issuer: string;
  metadata: AuthorizationServerMetadata;
  preRegistered?: PreRegistered | undefined;
  trace: Trace;
}): Promise<ClientResult> {
  const { store, issuer, metadata, preRegistered, trace } = options;
  const start = performance.now();

  if (preRegistered) {
    const stored: StoredClient = {
      client_id: preRegistered.clientId,
      ...(preRegistered.clientSecret ? { client_secret: preRegistered.clientSecret } : {}),
      source: 'pre-registered',
      saved_at: new Date().toISOString(),
    };
    await store.saveClient(issuer, stored);
    trace.step('registration', { source: 'pre-registered', clientId: stored.client_id, confidential: Boolean(stored.client_secret), ms: since(start) }, `using pre-registered client_id=${stored.client_id}${stored.client_secret ? ' (with secret)' : ''}`);
    return { client: clientInformation(stored), source: 'pre-registered' };
  }

  const existing = (await store.read(issuer)).client;
  if (usable(existing)) {
    trace.step('registration', { source: 'stored', clientId: existing.client_id, registeredAt: existing.saved_at, ms: since(start) }, `reusing client_id=${existing.client_id} registered ${existing.saved_at} (${store.pathFor(issuer)})`);
    return { client: clientInformation(existing), source: 'stored' };
  }

  if (!metadata.registration_endpoint) {
    throw new CliError('registration_unavailable', `The authorization server ${issuer} offers no Dynamic Client Registration (no registration_endpoint in its metadata).`, {
      hint: 'Register mcp-client with the authorization server yourself and pass --client-id (and --client-secret if it is confidential).',
    });
  }

  const body = registrationMetadata();
  let registered;
  try {
    registered = await registerClient(issuer, { metadata, clientMetadata: body, fetchFn: trace.fetch });
  } catch (error) {
    if (error instanceof RegistrationRejectedError) {
      let detail = `HTTP ${error.status}`;
      try {
        const parsed = JSON.parse(error.body) as { error?: unknown; error_description?: unknown };
        if (typeof parsed.error === 'string') detail += `: ${parsed.error}`;
        if (typeof parsed.error_description === 'string') detail += ` — ${parsed.error_description}`;
      } catch {
        if (error.body) detail += `: ${error.body.slice(0, 200)}`;
      }
      throw new CliError('registration_refused', `The authorization server refused the client registration (${detail}).`, {
        hint: 'Check the AS registration policy (redirect URIs, application_type native), or pass a pre-registered --client-id.',
        cause: error,
      });
    }
    if (isNetworkError(error)) throw unreachable('authorization server registration endpoint', metadata.registration_endpoint, error);
    throw new CliError('registration_failed', `Client registration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  const stored: StoredClient = {
    client_id: registered.client_id,
    ...(registered.client_secret ? { client_secret: registered.client_secret } : {}),
    ...(registered.client_id_issued_at !== undefined ? { client_id_issued_at: registered.client_id_issued_at } : {}),
    ...(registered.client_secret_expires_at !== undefined ? { client_secret_expires_at: registered.client_secret_expires_at } : {}),
    redirect_uris: registered.redirect_uris ?? body.redirect_uris,
    ...(registered.token_endpoint_auth_method ? { token_endpoint_auth_method: registered.token_endpoint_auth_method } : {}),
    source: 'dcr',
    saved_at: new Date().toISOString(),
  };
  await store.saveClient(issuer, stored);
  trace.step(
    'registration',
    {
      source: 'dcr',
      endpoint: metadata.registration_endpoint,
      clientId: stored.client_id,
      clientName: CLIENT_NAME,
      redirectUris: stored.redirect_uris,
      tokenEndpointAuthMethod: registered.token_endpoint_auth_method ?? body.token_endpoint_auth_method,
      ms: since(start),
    },
    `registered client_id=${stored.client_id} (RFC 7591, redirect_uris=[${stored.redirect_uris?.join(', ')}], auth=${registered.token_endpoint_auth_method ?? 'none'})`,
  );
  return { client: clientInformation(stored), source: 'dcr' };
}
