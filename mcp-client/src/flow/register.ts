/**
 * Step 4: a client identity at the authorization server, and the loopback redirect URI it
 * is registered with, listened on.
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
 * Redirect URIs: most authorization servers compare them as strings, so the CLI registers
 * the exact URI it listens on, port included (http://127.0.0.1:<port>/callback), and listens
 * there again on later runs. When that port is taken, the registration is updated to a
 * free port (RFC 7592) or, where the AS offers no update, a new client is registered. A
 * pre-registered client or a Client ID Metadata Document listens on a URI it lists
 * (--redirect-uri, or the document's redirect_uris).
 */
import { isHttpsUrl } from '@modelcontextprotocol/client';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed } from '@modelcontextprotocol/client';
import { CliError } from '../errors.ts';
import type { Store, StoredClient } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { PortInUse, startCallbackServer } from './authorize.ts';
import type { CallbackExpectations, CallbackServer } from './authorize.ts';
import { documentRedirectUris } from './cimd.ts';
import { CLIENT_NAME, register, registrationMetadata, update } from './dcr.ts';
import type { Registration } from './dcr.ts';
import type { AsMetadata } from './discover.ts';
import { FRESH_TARGET, loopbackTargets, parseLoopbackRedirectUri } from './loopback.ts';

/** At most this many redirect URIs per registration: the newest port and the ones before it. */
const MAX_REDIRECT_URIS = 3;

export interface PreRegistered {
  clientId: string;
  clientSecret?: string;
  /** The AS these credentials belong to (--issuer); they are never sent to another. */
  issuer?: string;
  /** --client-key: the absolute path of its private key (private_key_jwt, flow/client-assertion.ts). */
  clientKeyFile?: string;
  /** --client-key-alg */
  clientKeyAlg?: string;
}

/** The stored form of a pre-registered client's credentials: its secret, or the path of its key (never the key). */
function preRegisteredCredentials(
  preRegistered: PreRegistered,
): Pick<StoredClient, 'client_secret' | 'client_key_file' | 'client_key_alg' | 'token_endpoint_auth_method'> {
  if (preRegistered.clientKeyFile) {
    return {
      client_key_file: preRegistered.clientKeyFile,
      ...(preRegistered.clientKeyAlg ? { client_key_alg: preRegistered.clientKeyAlg } : {}),
      token_endpoint_auth_method: 'private_key_jwt',
    };
  }
  return preRegistered.clientSecret ? { client_secret: preRegistered.clientSecret } : {};
}

/** How a pre-registered client authenticates, for the trace. */
function credentialsNote(stored: StoredClient): string {
  return stored.client_key_file ? ' (with private key)' : stored.client_secret ? ' (with secret)' : '';
}

export type ClientSource = 'pre-registered' | 'cimd' | 'stored' | 'dcr';

/** What happened to the registration in this run (shown in the trace). */
export type RegistrationAction = 'pre-registered' | 'cimd' | 'reused' | 'updated' | 'registered';

export interface ClientResult {
  client: OAuthClientInformationMixed;
  source: ClientSource;
  action: RegistrationAction;
  /** Listening on the redirect URI this client is registered with. */
  callback: CallbackServer;
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

/** A --redirect-uri the CLI can listen on: http on 127.0.0.1, [::1] or localhost, written as the AS will compare it. */
export function checkRedirectUri(value: string): string {
  if (!parseLoopbackRedirectUri(value)) {
    throw new CliError(
      'usage',
      `--redirect-uri must be a loopback http URI such as http://127.0.0.1:8976/callback (no query, no fragment, written exactly as registered), got ${JSON.stringify(value)}.`,
      {
        hint: 'Pass the redirect URI registered for --client-id, or listed in your Client ID Metadata Document.',
        exitCode: 2,
      },
    );
  }
  return value;
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
  };
}

function usable(stored: StoredClient | undefined): stored is StoredClient {
  if (!stored) return false;
  // RFC 7591 §3.2.1: 0 means the secret does not expire.
  const expiresAt = stored.client_secret_expires_at;
  return !(stored.client_secret && expiresAt && expiresAt * 1000 <= Date.now());
}

/** The ports of the URIs, for messages. */
function ports(uris: string[]): string {
  return uris.map((uri) => parseLoopbackRedirectUri(uri)?.port ?? '?').join(', ');
}

/**
 * Listens on the first of `uris` whose port is free (a portless URI: any free port).
 * Undefined when none is free; a CliError when none is a loopback URI at all.
 */
async function listenOnOneOf(uris: string[], expect: CallbackExpectations, whose: string): Promise<CallbackServer | undefined> {
  const targets = loopbackTargets(uris);
  if (targets.length === 0) {
    throw new CliError(
      'no_loopback_redirect_uri',
      `None of the redirect URIs of ${whose} (${uris.join(', ')}) is a loopback http URI mcp-client can listen on.`,
      {
        hint: 'Add a loopback redirect URI such as http://127.0.0.1:8976/callback to the client, and pass it with --redirect-uri.',
      },
    );
  }
  for (const { target } of targets) {
    try {
      return await startCallbackServer(expect, target);
    } catch (error) {
      if (!(error instanceof PortInUse)) throw error;
    }
  }
  return undefined;
}

/** Like listenOnOneOf, for URIs the CLI cannot change (pre-registered, CIMD): all taken is an error. */
async function listenOnListed(uris: string[], expect: CallbackExpectations, whose: string): Promise<CallbackServer> {
  const callback = await listenOnOneOf(uris, expect, whose);
  if (callback) return callback;
  throw new CliError(
    'port_in_use',
    `Every redirect URI of ${whose} is on a port mcp-client cannot listen on: another program holds it, or it is privileged (port ${ports(uris)}).`,
    {
      hint: 'Stop the program listening there and run again, or register another loopback redirect URI and pass it with --redirect-uri.',
    },
  );
}

/** Registered redirect URIs, newest first: `fresh`, then the earlier ported ones (a concurrent login may be using one). */
function withFresh(fresh: string, earlier: string[] | undefined): string[] {
  const kept = loopbackTargets(earlier)
    .filter(({ uri, target }) => target.port > 0 && uri !== fresh)
    .map(({ uri }) => uri);
  return [fresh, ...kept].slice(0, MAX_REDIRECT_URIS);
}

function storedFrom(registered: Registration, sent: string[], previous?: StoredClient): StoredClient {
  return {
    client_id: registered.client_id,
    ...((registered.client_secret ?? previous?.client_secret) ? { client_secret: registered.client_secret ?? previous?.client_secret } : {}),
    ...(registered.client_id_issued_at !== undefined ? { client_id_issued_at: registered.client_id_issued_at } : {}),
    ...(registered.client_secret_expires_at !== undefined ? { client_secret_expires_at: registered.client_secret_expires_at } : {}),
    redirect_uris: sent,
    ...(registered.token_endpoint_auth_method ? { token_endpoint_auth_method: registered.token_endpoint_auth_method } : {}),
    ...((registered.registration_client_uri ?? previous?.registration_client_uri)
      ? { registration_client_uri: registered.registration_client_uri ?? previous?.registration_client_uri }
      : {}),
    ...((registered.registration_access_token ?? previous?.registration_access_token)
      ? { registration_access_token: registered.registration_access_token ?? previous?.registration_access_token }
      : {}),
    source: 'dcr',
    saved_at: previous && previous.client_id === registered.client_id ? previous.saved_at : new Date().toISOString(),
  };
}

/** --client-id/--client-secret issued by another AS (--issuer) are never sent to this one. */
function refuseForeignCredentials(preRegistered: PreRegistered, issuer: string, trace: Trace, start: number): void {
  if (preRegistered.issuer === undefined || sameIssuer(preRegistered.issuer, issuer)) return;
  trace.step(
    'registration',
    { source: 'pre-registered', clientId: preRegistered.clientId, boundIssuer: preRegistered.issuer, issuer, ms: since(start) },
    `the pre-registered client belongs to ${preRegistered.issuer}, not to ${issuer}`,
    false,
  );
  throw new CliError(
    'issuer_mismatch',
    `The server's authorization server is ${issuer}, but --client-id was issued by ${preRegistered.issuer}; refusing to send those credentials to another authorization server.`,
    {
      hint: `Register a client with ${issuer} and pass its --client-id (with --issuer ${issuer}), or drop --client-id to register dynamically.`,
    },
  );
}

/** A pre-registered machine client (client_credentials): no browser, so no redirect URI. */
export async function machineClient(options: {
  store: Store;
  issuer: string;
  preRegistered: PreRegistered;
  trace: Trace;
}): Promise<OAuthClientInformationMixed> {
  const { store, issuer, preRegistered, trace } = options;
  const start = performance.now();
  refuseForeignCredentials(preRegistered, issuer, trace, start);
  const stored: StoredClient = {
    client_id: preRegistered.clientId,
    ...preRegisteredCredentials(preRegistered),
    source: 'pre-registered',
    saved_at: new Date().toISOString(),
  };
  await store.saveClient(issuer, stored);
  trace.step(
    'registration',
    {
      source: 'pre-registered',
      action: 'pre-registered',
      clientId: stored.client_id,
      confidential: Boolean(stored.client_secret ?? stored.client_key_file),
      ms: since(start),
    },
    `using pre-registered client_id=${stored.client_id}${credentialsNote(stored)}`,
  );
  return clientInformation(stored);
}

export interface EnsureClientOptions {
  store: Store;
  issuer: string;
  metadata: AuthorizationServerMetadata;
  preRegistered?: PreRegistered | undefined;
  clientMetadataUrl?: string | undefined;
  /** --redirect-uri: the loopback URI registered for --client-id or listed in the CIMD. */
  redirectUri?: string | undefined;
  /** The callback server's checks for this authorization attempt. */
  expect: CallbackExpectations;
  trace: Trace;
}

/**
 * The client identity for this login, and the callback server listening on a redirect URI
 * it is registered with. The caller closes the callback server.
 */
export async function ensureClient(options: EnsureClientOptions): Promise<ClientResult> {
  const { store, issuer, metadata, preRegistered, clientMetadataUrl, trace } = options;
  const start = performance.now();

  if (preRegistered) {
    refuseForeignCredentials(preRegistered, issuer, trace, start);
    const existing = (await store.read(issuer)).client;
    const known = existing?.source === 'pre-registered' && existing.client_id === preRegistered.clientId ? existing.redirect_uris : undefined;
    const stored: StoredClient = {
      client_id: preRegistered.clientId,
      ...preRegisteredCredentials(preRegistered),
      ...(options.redirectUri ? { redirect_uris: [options.redirectUri] } : known ? { redirect_uris: known } : {}),
      source: 'pre-registered',
      saved_at: new Date().toISOString(),
    };
    return listedClient(options, stored, 'pre-registered', `pre-registered client_id=${stored.client_id}${credentialsNote(stored)}`, start);
  }

  const cimdSupported = (metadata as AsMetadata).client_id_metadata_document_supported === true;
  if (clientMetadataUrl && cimdSupported) {
    let listed = options.redirectUri ? [options.redirectUri] : undefined;
    if (!listed) {
      const read = await documentRedirectUris(clientMetadataUrl, trace);
      if ('redirectUris' in read) listed = read.redirectUris;
    }
    const stored: StoredClient = {
      client_id: clientMetadataUrl,
      ...(listed ? { redirect_uris: listed } : {}),
      token_endpoint_auth_method: 'none',
      source: 'cimd',
      saved_at: new Date().toISOString(),
    };
    return listedClient(
      options,
      stored,
      'cimd',
      `client_id=${clientMetadataUrl} (Client ID Metadata Document; the AS fetches it, no registration needed)`,
      start,
    );
  }

  if (clientMetadataUrl && options.redirectUri)
    trace.note(`${issuer} does not accept Client ID Metadata Documents: registering a client of its own, so --redirect-uri does not apply`);
  const existing = (await store.read(issuer)).client;
  // A CIMD client id stored earlier is only valid while the AS still accepts CIMD and the
  // user still names that document; otherwise register anew.
  if (usable(existing) && existing.source === 'pre-registered') {
    return listedClient(options, existing, 'pre-registered', `stored pre-registered client_id=${existing.client_id}`, start);
  }
  if (usable(existing) && existing.source === 'dcr') return storedRegistration(options, existing, start);

  if (!metadata.registration_endpoint) {
    trace.step(
      'registration',
      { source: 'unavailable', cimdSupported, ms: since(start) },
      `no way to register at ${issuer}: no registration_endpoint${cimdSupported ? '' : ', no Client ID Metadata Document support'}`,
      false,
    );
    throw new CliError(
      'registration_unavailable',
      `The authorization server ${issuer} offers no Dynamic Client Registration (no registration_endpoint in its metadata)${cimdSupported ? '' : ' and does not accept Client ID Metadata Documents'}.`,
      {
        hint: cimdSupported
          ? 'Pass --client-metadata-url <https URL of your client metadata document>, or a pre-registered --client-id (and --client-secret if it is confidential).'
          : 'Register mcp-client with the authorization server yourself and pass --client-id (and --client-secret if it is confidential).',
      },
    );
  }
  const callback = await startCallbackServer(options.expect, FRESH_TARGET);
  try {
    return await registerNew(options, callback, start, undefined);
  } catch (error) {
    await callback.close();
    throw error;
  }
}

/**
 * A client whose redirect URIs the CLI does not choose (pre-registered, CIMD): listen on one
 * it lists. Without any known, an ephemeral port — which only works where the AS matches
 * loopback redirect URIs on any port (RFC 8252 §7.3), so the trace says so.
 */
async function listedClient(
  options: EnsureClientOptions,
  stored: StoredClient,
  source: 'pre-registered' | 'cimd',
  described: string,
  start: number,
): Promise<ClientResult> {
  const { store, issuer, trace } = options;
  const whose = source === 'cimd' ? `the Client ID Metadata Document ${stored.client_id}` : `client ${stored.client_id}`;
  const uris = stored.redirect_uris ?? [];
  const callback = uris.length ? await listenOnListed(uris, options.expect, whose) : await startCallbackServer(options.expect, FRESH_TARGET);
  try {
    await store.saveClient(issuer, stored);
  } catch (error) {
    await callback.close();
    throw error;
  }
  trace.step(
    'registration',
    {
      source,
      action: source,
      clientId: stored.client_id,
      confidential: Boolean(stored.client_secret ?? stored.client_key_file),
      redirectUri: callback.redirectUri,
      listed: uris,
      ms: since(start),
    },
    `using ${described}; listening on ${callback.redirectUri}`,
  );
  if (!uris.length) {
    trace.note(
      `no redirect URI is known for ${whose}: ${callback.redirectUri} works only where the authorization server accepts any loopback port (RFC 8252 §7.3); pass --redirect-uri with the registered one otherwise`,
    );
  }
  return { client: clientInformation(stored), source, action: source, callback };
}

/**
 * A registration from an earlier run: listen on one of its redirect URIs if a port is free;
 * otherwise listen on a free port and move the registration there (RFC 7592), or register
 * a new client where the AS offers no update.
 */
async function storedRegistration(options: EnsureClientOptions, existing: StoredClient, start: number): Promise<ClientResult> {
  const { trace, store, issuer } = options;
  const ported = loopbackTargets(existing.redirect_uris)
    .filter(({ target }) => target.port > 0)
    .map(({ uri }) => uri);
  const reusable = ported.length ? await listenOnOneOf(ported, options.expect, `client ${existing.client_id}`) : undefined;
  if (reusable) {
    trace.step(
      'registration',
      {
        source: 'stored',
        action: 'reused',
        clientId: existing.client_id,
        registeredAt: existing.saved_at,
        redirectUri: reusable.redirectUri,
        ms: since(start),
      },
      `reusing client_id=${existing.client_id} registered ${existing.saved_at} (${store.pathFor(issuer)}); its redirect URI ${reusable.redirectUri} is free`,
    );
    return { client: clientInformation(existing), source: 'stored', action: 'reused', callback: reusable };
  }
  const why = ported.length
    ? `port ${ports(ported)} of client_id=${existing.client_id} ${ported.length === 1 ? 'is' : 'are'} in use`
    : `client_id=${existing.client_id} was registered without a port (${(existing.redirect_uris ?? []).join(', ') || 'no redirect URI'}), which authorization servers that compare redirect URIs exactly refuse`;
  const callback = await startCallbackServer(options.expect, FRESH_TARGET);
  try {
    const { registration_client_uri: uri, registration_access_token: token } = existing;
    let updateProblem = 'the authorization server offers no registration update (RFC 7592)';
    if (uri && token) {
      const redirectUris = withFresh(callback.redirectUri, existing.redirect_uris);
      try {
        const updated = await update(
          {
            client_id: existing.client_id,
            ...(existing.client_secret ? { client_secret: existing.client_secret } : {}),
            registration_client_uri: uri,
            registration_access_token: token,
          },
          registrationMetadata(redirectUris),
          trace,
        );
        const stored = storedFrom(updated, redirectUris, existing);
        await store.saveClient(issuer, stored);
        trace.step(
          'registration',
          { source: 'stored', action: 'updated', clientId: stored.client_id, reason: why, redirectUri: callback.redirectUri, redirectUris, ms: since(start) },
          `${why}: updated the registration (RFC 7592) to redirect_uris=[${redirectUris.join(', ')}]`,
        );
        return { client: clientInformation(stored), source: 'stored', action: 'updated', callback };
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        updateProblem = `updating the registration failed: ${error.message}`;
      }
    }
    if (!options.metadata.registration_endpoint) {
      throw new CliError('registration_unavailable', `${why}, ${updateProblem}, and ${issuer} offers no registration endpoint to register again.`, {
        hint: 'Stop the program on that port and run again.',
      });
    }
    return await registerNew(options, callback, start, { replaces: existing.client_id, reason: `${why}; ${updateProblem}` });
  } catch (error) {
    await callback.close();
    throw error;
  }
}

/** RFC 7591 registration of the URI `callback` listens on. */
async function registerNew(
  options: EnsureClientOptions,
  callback: CallbackServer,
  start: number,
  again: { replaces: string; reason: string } | undefined,
): Promise<ClientResult> {
  const { store, issuer, metadata, trace } = options;
  const body = registrationMetadata([callback.redirectUri]);
  const registered = await register(metadata.registration_endpoint!, body, trace);
  const stored = storedFrom(registered, body.redirect_uris);
  await store.saveClient(issuer, stored);
  const echoed = registered.redirect_uris;
  trace.step(
    'registration',
    {
      source: 'dcr',
      action: 'registered',
      endpoint: metadata.registration_endpoint,
      clientId: stored.client_id,
      clientName: CLIENT_NAME,
      redirectUri: callback.redirectUri,
      redirectUris: stored.redirect_uris,
      tokenEndpointAuthMethod: registered.token_endpoint_auth_method ?? body.token_endpoint_auth_method,
      registrationManagement: Boolean(stored.registration_client_uri && stored.registration_access_token),
      ...(again ? { replaces: again.replaces, reason: again.reason } : {}),
      ms: since(start),
    },
    `${again ? `${again.reason}: registered again, ` : 'registered '}client_id=${stored.client_id} (RFC 7591, redirect_uris=[${stored.redirect_uris?.join(', ')}], auth=${registered.token_endpoint_auth_method ?? 'none'})`,
  );
  if (echoed && !echoed.includes(callback.redirectUri)) {
    trace.note(`the registration response lists redirect_uris=[${echoed.join(', ')}], not ${callback.redirectUri}; using ${callback.redirectUri} as sent`);
  }
  return { client: clientInformation(stored), source: 'dcr', action: 'registered', callback };
}

/** What ensureClient would do, without doing it (for `discover`). */
export function plannedRegistration(options: {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  stored: StoredClient | undefined;
  preRegistered?: PreRegistered | undefined;
  clientMetadataUrl?: string | undefined;
  redirectUri?: string | undefined;
}): { source: ClientSource | 'unavailable' | 'refused'; clientId?: string; redirectUris?: string[]; description: string } {
  const { issuer, metadata, stored, preRegistered, clientMetadataUrl, redirectUri } = options;
  const cimdSupported = (metadata as AsMetadata).client_id_metadata_document_supported === true;
  if (preRegistered) {
    if (preRegistered.issuer !== undefined && !sameIssuer(preRegistered.issuer, issuer)) {
      return { source: 'refused', description: `--client-id belongs to ${preRegistered.issuer}, not ${issuer}: would refuse to send it` };
    }
    return {
      source: 'pre-registered',
      clientId: preRegistered.clientId,
      ...(redirectUri ? { redirectUris: [redirectUri] } : {}),
      description: `pre-registered client_id=${preRegistered.clientId}${redirectUri ? `, redirect_uri ${redirectUri}` : ''}`,
    };
  }
  if (clientMetadataUrl && cimdSupported)
    return {
      source: 'cimd',
      clientId: clientMetadataUrl,
      description: `client_id=${clientMetadataUrl} (Client ID Metadata Document), a redirect URI it lists`,
    };
  if (usable(stored) && stored.source !== 'cimd') {
    return {
      source: 'stored',
      clientId: stored.client_id,
      ...(stored.redirect_uris ? { redirectUris: stored.redirect_uris } : {}),
      description: `stored client_id=${stored.client_id} (${stored.source}), redirect_uris=[${(stored.redirect_uris ?? []).join(', ')}]`,
    };
  }
  if (metadata.registration_endpoint) {
    return {
      source: 'dcr',
      description: `would register (RFC 7591) http://127.0.0.1:<free port>/callback${cimdSupported && !clientMetadataUrl ? '; the AS also accepts Client ID Metadata Documents (--client-metadata-url)' : ''}`,
    };
  }
  return {
    source: 'unavailable',
    description: cimdSupported ? 'no dynamic registration: pass --client-metadata-url or --client-id' : 'no dynamic registration: pass --client-id',
  };
}
