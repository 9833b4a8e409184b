/**
 * Step 4: a client identity at the authorization server.
 *
 * Priority (MCP authorization spec 2026-07-28, "Client Registration Approaches"):
 *   1. pre-registered credentials (--client-id/--client-secret), bound to one issuer;
 *   2. a Client ID Metadata Document URL (--client-metadata-url) used as the client_id,
 *      when the AS metadata says client_id_metadata_document_supported: true;
 *   3. a registration stored for this issuer (from an earlier DCR);
 *   4. Dynamic Client Registration (RFC 7591);
 *   5. otherwise: stop and say which flag to pass.
 *
 * Credentials are stored per AS issuer and looked up only by the issuer in hand: a client
 * registered at one AS is never presented to another, and a resource that moves to a new
 * AS gets a new registration there (MCP spec, "Authorization Server Binding").
 *
 * The registered redirect URI is the loopback URI without a port: the AS matches
 * loopback redirect URIs on any port (RFC 8252 §7.3), so one registration serves every
 * run, whatever ephemeral port the callback server gets.
 */
import { RegistrationRejectedError, isHttpsUrl, registerClient } from '@modelcontextprotocol/client';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed, OAuthClientMetadata } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import type { Store, StoredClient } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import type { AsMetadata } from './discover.ts';

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
  /** The AS these credentials belong to (--issuer); they are never sent to another. */
  issuer?: string;
}

export interface ClientResult {
  client: OAuthClientInformationMixed;
  source: 'pre-registered' | 'cimd' | 'stored' | 'dcr';
}

/** A usable Client ID Metadata Document URL: https with a path (draft-ietf-oauth-client-id-metadata-document). */
export function checkClientMetadataUrl(value: string): string {
  if (!isHttpsUrl(value)) {
    throw new CliError('usage', `--client-metadata-url must be an https URL with a path (it becomes the client_id), got ${JSON.stringify(value)}.`, {
      hint: 'Host the client metadata document at e.g. https://example.com/mcp-client.json and pass that URL.',
      exitCode: 2,
    });
  }
  return new URL(value).href;
}

/** Issuer identifiers compare as strings (RFC 8414 §3.3), after parsing away nothing. */
function sameIssuer(a: string, b: string): boolean {
  return a === b;
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
  clientMetadataUrl?: string | undefined;
  trace: Trace;
}): Promise<ClientResult> {
  const { store, issuer, metadata, preRegistered, clientMetadataUrl, trace } = options;
  const start = performance.now();

  if (preRegistered) {
    if (preRegistered.issuer !== undefined && !sameIssuer(preRegistered.issuer, issuer)) {
      trace.step('registration', { source: 'pre-registered', clientId: preRegistered.clientId, boundIssuer: preRegistered.issuer, issuer, ms: since(start) }, `the pre-registered client belongs to ${preRegistered.issuer}, not to ${issuer}`, false);
      throw new CliError('issuer_mismatch', `The server's authorization server is ${issuer}, but --client-id was issued by ${preRegistered.issuer}; refusing to send those credentials to another authorization server.`, {
        hint: `Register a client with ${issuer} and pass its --client-id (with --issuer ${issuer}), or drop --client-id to register dynamically.`,
      });
    }
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

  const cimdSupported = (metadata as AsMetadata).client_id_metadata_document_supported === true;
  if (clientMetadataUrl && cimdSupported) {
    const stored: StoredClient = {
      client_id: clientMetadataUrl,
      redirect_uris: [REGISTERED_REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      source: 'cimd',
      saved_at: new Date().toISOString(),
    };
    // Stored so that logout can name the client when it revokes.
    await store.saveClient(issuer, stored);
    trace.step('registration', { source: 'cimd', clientId: clientMetadataUrl, ms: since(start) }, `client_id=${clientMetadataUrl} (Client ID Metadata Document; the AS fetches it, no registration needed)`);
    return { client: clientInformation(stored), source: 'cimd' };
  }

  const existing = (await store.read(issuer)).client;
  // A CIMD client id stored earlier is only valid while the AS still accepts CIMD and the
  // user still names that document; otherwise register anew.
  if (usable(existing) && existing.source !== 'cimd') {
    trace.step('registration', { source: 'stored', clientId: existing.client_id, registeredAt: existing.saved_at, ms: since(start) }, `reusing client_id=${existing.client_id} registered ${existing.saved_at} (${store.pathFor(issuer)})`);
    return { client: clientInformation(existing), source: 'stored' };
  }

  if (!metadata.registration_endpoint) {
    trace.step('registration', { source: 'unavailable', cimdSupported, ms: since(start) }, `no way to register at ${issuer}: no registration_endpoint${cimdSupported ? '' : ', no Client ID Metadata Document support'}`, false);
    throw new CliError('registration_unavailable', `The authorization server ${issuer} offers no Dynamic Client Registration (no registration_endpoint in its metadata)${cimdSupported ? '' : ' and does not accept Client ID Metadata Documents'}.`, {
      hint: cimdSupported
        ? 'Pass --client-metadata-url <https URL of your client metadata document>, or a pre-registered --client-id (and --client-secret if it is confidential).'
        : 'Register mcp-client with the authorization server yourself and pass --client-id (and --client-secret if it is confidential).',
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

/** What ensureClient would do, without doing it (for `discover`). */
export function plannedRegistration(options: {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  stored: StoredClient | undefined;
  preRegistered?: PreRegistered | undefined;
  clientMetadataUrl?: string | undefined;
}): { source: 'pre-registered' | 'cimd' | 'stored' | 'dcr' | 'unavailable' | 'refused'; clientId?: string; description: string } {
  const { issuer, metadata, stored, preRegistered, clientMetadataUrl } = options;
  const cimdSupported = (metadata as AsMetadata).client_id_metadata_document_supported === true;
  if (preRegistered) {
    if (preRegistered.issuer !== undefined && !sameIssuer(preRegistered.issuer, issuer)) {
      return { source: 'refused', description: `--client-id belongs to ${preRegistered.issuer}, not ${issuer}: would refuse to send it` };
    }
    return { source: 'pre-registered', clientId: preRegistered.clientId, description: `pre-registered client_id=${preRegistered.clientId}` };
  }
  if (clientMetadataUrl && cimdSupported) return { source: 'cimd', clientId: clientMetadataUrl, description: `client_id=${clientMetadataUrl} (Client ID Metadata Document)` };
  if (usable(stored) && stored.source !== 'cimd') return { source: 'stored', clientId: stored.client_id, description: `stored client_id=${stored.client_id} (${stored.source})` };
  if (metadata.registration_endpoint) {
    return {
      source: 'dcr',
      description: `would register (RFC 7591)${cimdSupported && !clientMetadataUrl ? '; the AS also accepts Client ID Metadata Documents (--client-metadata-url)' : ''}`,
    };
  }
  return {
    source: 'unavailable',
    description: cimdSupported ? 'no dynamic registration: pass --client-metadata-url or --client-id' : 'no dynamic registration: pass --client-id',
  };
}
