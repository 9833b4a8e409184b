/**
 * Dynamic Client Registration over HTTP: register (RFC 7591), update and delete (RFC 7592).
 *
 * Not the SDK's registerClient: its response schema drops registration_client_uri and
 * registration_access_token, which an update needs. The registration access token is a
 * credential: it goes only into the store and the Authorization header (--verbose redacts it).
 */
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import type { Trace } from '../trace.ts';
import { printable } from './authorize.ts';

export const CLIENT_NAME = 'mcp-client';

/** What mcp-client registers: a public native client with loopback redirect URIs. */
export interface RegistrationRequest {
  client_name: string;
  application_type: 'native';
  redirect_uris: string[];
  token_endpoint_auth_method: 'none';
  grant_types: string[];
  response_types: string[];
}

export function registrationMetadata(redirectUris: string[]): RegistrationRequest {
  return {
    client_name: CLIENT_NAME,
    application_type: 'native',
    redirect_uris: redirectUris,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

/** The members of a registration response the flow keeps. */
export interface Registration {
  client_id: string;
  client_secret?: string;
  client_id_issued_at?: number;
  client_secret_expires_at?: number;
  redirect_uris?: string[];
  token_endpoint_auth_method?: string;
  registration_client_uri?: string;
  registration_access_token?: string;
}

function parseRegistration(body: unknown): Registration | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b['client_id'] !== 'string' || !b['client_id']) return undefined;
  const str = (key: string) => (typeof b[key] === 'string' ? { [key]: b[key] } : {});
  const num = (key: string) => (typeof b[key] === 'number' ? { [key]: b[key] } : {});
  const uris = Array.isArray(b['redirect_uris']) && b['redirect_uris'].every((u) => typeof u === 'string') ? { redirect_uris: b['redirect_uris'] } : {};
  return {
    client_id: b['client_id'],
    ...str('client_secret'),
    ...num('client_id_issued_at'),
    ...num('client_secret_expires_at'),
    ...uris,
    ...str('token_endpoint_auth_method'),
    ...(typeof b['registration_client_uri'] === 'string' && URL.canParse(b['registration_client_uri'])
      ? { registration_client_uri: b['registration_client_uri'] }
      : {}),
    ...str('registration_access_token'),
  };
}

/** "HTTP 400: invalid_redirect_uri — …" from an RFC 7591 error response. */
function describeRefusal(status: number, text: string): string {
  let detail = `HTTP ${status}`;
  try {
    const parsed = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    if (typeof parsed.error === 'string') detail += `: ${printable(parsed.error, 80)}`;
    if (typeof parsed.error_description === 'string') detail += ` — ${printable(parsed.error_description)}`;
  } catch {
    if (text) detail += `: ${printable(text, 200)}`;
  }
  return detail;
}

async function send(trace: Trace, url: string, init: RequestInit, what: string): Promise<{ status: number; text: string }> {
  let response: Response;
  try {
    // Credentials are never sent on to wherever a redirect points.
    response = await trace.fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    if (isNetworkError(error)) throw unreachable(what, url, error);
    throw new CliError('registration_failed', `${what} at ${url} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { status: response.status, text: await response.text().catch(() => '') };
}

/** RFC 7591 §3.1: POST the metadata to the registration endpoint. */
export async function register(endpoint: string, body: RegistrationRequest, trace: Trace): Promise<Registration> {
  const { status, text } = await send(
    trace,
    endpoint,
    { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) },
    'authorization server registration endpoint',
  );
  if (status < 200 || status >= 300) {
    throw new CliError('registration_refused', `The authorization server refused the client registration (${describeRefusal(status, text)}).`, {
      hint: 'Check the AS registration policy (redirect URIs, application_type native), or pass a pre-registered --client-id.',
    });
  }
  const registered = parseRegistration(safeJson(text));
  if (!registered) throw new CliError('registration_failed', `The registration endpoint ${endpoint} answered ${status} without a client_id.`);
  return registered;
}

/**
 * RFC 7592 §2.2: replace the client's metadata (here: its redirect URIs). The request carries
 * client_id and every registered member, and the secret if there is one, as §2.2 asks.
 */
export async function update(
  client: { client_id: string; client_secret?: string; registration_client_uri: string; registration_access_token: string },
  body: RegistrationRequest,
  trace: Trace,
): Promise<Registration> {
  const request = { ...body, client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) };
  const { status, text } = await send(
    trace,
    client.registration_client_uri,
    {
      method: 'PUT',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${client.registration_access_token}` },
      body: JSON.stringify(request),
    },
    'authorization server client configuration endpoint',
  );
  if (status !== 200) throw new CliError('registration_update_refused', `the update was refused (${describeRefusal(status, text)})`);
  const updated = parseRegistration(safeJson(text));
  if (!updated || updated.client_id !== client.client_id) throw new CliError('registration_update_refused', 'the update response names another client');
  return updated;
}

/** RFC 7592 §2.3: delete the registration; the HTTP status (204 when deleted). */
export async function deregister(client: { registration_client_uri: string; registration_access_token: string }, trace: Trace): Promise<number> {
  const { status } = await send(
    trace,
    client.registration_client_uri,
    { method: 'DELETE', headers: { authorization: `Bearer ${client.registration_access_token}` } },
    'authorization server client configuration endpoint',
  );
  return status;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
