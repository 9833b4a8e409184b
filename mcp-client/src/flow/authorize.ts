/**
 * Step 5: the authorization request and its loopback callback (RFC 8252 §7.3).
 *
 * A one-shot HTTP server on the loopback redirect URI the client is registered with
 * (loopback.ts; 127.0.0.1:<port>/callback for a fresh registration) receives the browser's
 * redirect. Before the response is acted on at all it is validated:
 *   - RFC 9207 `iss` against the issuer recorded from the validated AS metadata (required
 *     when the AS advertises authorization_response_iss_parameter_supported), and
 *   - `state` against the value generated for this attempt.
 * On a mismatch the response's error / error_description / error_uri are neither acted on
 * nor displayed (MCP authorization spec, "Authorization Response Validation").
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import open from 'open';
import { IssuerMismatchError, startAuthorization, validateAuthorizationResponseIssuer } from '@modelcontextprotocol/client';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed } from '@modelcontextprotocol/client';
import { CliError } from '../errors.ts';
import type { Trace } from '../trace.ts';
import { FRESH_TARGET, formatLoopbackUri } from './loopback.ts';
import type { LoopbackTarget } from './loopback.ts';

/** The port of a redirect URI cannot be listened on (another program holds it, or it is privileged): the caller decides what to do. */
export class PortInUse extends Error {
  readonly port: number;
  constructor(port: number) {
    super(`port ${port} cannot be listened on`);
    this.port = port;
  }
}

export interface CallbackExpectations {
  /** The `state` sent in this authorization request. */
  state: string;
  /** The issuer recorded from the validated AS metadata. */
  expectedIssuer: string;
  /** The AS metadata's authorization_response_iss_parameter_supported. */
  issParameterSupported: boolean;
  /** How long to wait for the browser, in milliseconds. */
  timeoutMs: number;
}

export interface CallbackResult {
  code: string;
  /** The form-decoded `iss` parameter, if the AS sent one (already validated). */
  iss: string | undefined;
}

export interface CallbackServer {
  port: number;
  /** The redirect URI to send, e.g. http://127.0.0.1:<port>/callback */
  redirectUri: string;
  /** Settles once: with the code, or with a CliError (mismatch, denial, timeout). */
  result: Promise<CallbackResult>;
  close(): Promise<void>;
}

/** The authorization response, once the browser comes back to the callback (a spinner meanwhile). */
export async function waitForBrowser(callback: CallbackServer, trace: Trace, timeoutMs: number): Promise<CallbackResult> {
  const spinner = trace.spinner(`Waiting for the browser to come back to ${callback.redirectUri} (timeout ${Math.round(timeoutMs / 1000)} s)…`);
  try {
    return await callback.result;
  } finally {
    spinner.stop();
  }
}

/** A random `state` (256 bits, base64url). */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** Printable, single-line, bounded text for values that came from the network. */
export function printable(value: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function page(title: string, message: string): string {
  // Fixed strings only: nothing from the request is reflected into the page.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcp-client: ${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style></head>
<body><h1>${title}</h1><p>${message}</p></body></html>
`;
}

/** Validates the callback's query parameters; throws a CliError, or returns the code. */
export function checkCallbackParams(params: URLSearchParams, expect: Omit<CallbackExpectations, 'timeoutMs'>): CallbackResult {
  const iss = params.get('iss') ?? undefined;
  // 1. RFC 9207 first: an unverified response's error fields must not be acted on or shown.
  try {
    validateAuthorizationResponseIssuer({ iss, expectedIssuer: expect.expectedIssuer, issParameterSupported: expect.issParameterSupported });
  } catch (error) {
    if (error instanceof IssuerMismatchError) {
      throw new CliError(
        'issuer_mismatch',
        iss === undefined
          ? `The authorization response has no iss parameter, but ${expect.expectedIssuer} says it always sends one; refusing it (RFC 9207 — possible mix-up attack).`
          : `The authorization response's iss ${JSON.stringify(printable(iss, 120))} is not ${expect.expectedIssuer}; refusing it (RFC 9207 — possible mix-up attack). Its other parameters were ignored.`,
        { hint: 'Run login again. If this repeats, something between you and the authorization server is tampering with the redirect.', cause: error },
      );
    }
    throw error;
  }
  // 2. state: this response belongs to this attempt.
  if (params.get('state') !== expect.state) {
    throw new CliError(
      'state_mismatch',
      "The authorization response's state does not match this login attempt; refusing it (stale browser tab, or a forged request).",
      {
        hint: 'Run login again and finish it in the tab it opens.',
      },
    );
  }
  // 3. Only now is an error response trustworthy enough to report.
  const error = params.get('error');
  if (error === 'access_denied') {
    throw new CliError('access_denied', 'Authorization was denied (error=access_denied).', {
      hint: 'Run login again and approve the request to continue.',
    });
  }
  if (error) {
    const description = params.get('error_description');
    throw new CliError(
      'authorization_error',
      `The authorization server returned error=${printable(error, 80)}${description ? `: ${printable(description)}` : ''}.`,
      {
        hint: 'See the error above; fix the cause on the authorization server side, then run login again.',
      },
    );
  }
  const code = params.get('code');
  if (!code) {
    throw new CliError('missing_code', 'The authorization response has neither code nor error.', { hint: 'Run login again.' });
  }
  return { code, iss };
}

/** Listens on host:port; PortInUse when another program holds it. */
function bind(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' || error.code === 'EACCES' ? new PortInUse(port) : error);
    server.once('error', fail);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

/**
 * Starts the one-shot loopback callback server on `at` (port 0: any free port). `localhost`
 * is served on 127.0.0.1 and, where the machine has it, ::1 — a browser may pick either.
 * Throws PortInUse when the port is taken.
 */
export async function startCallbackServer(expect: CallbackExpectations, at: LoopbackTarget = FRESH_TARGET): Promise<CallbackServer> {
  let settle: { resolve: (value: CallbackResult) => void; reject: (error: unknown) => void } | undefined;
  const result = new Promise<CallbackResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  result.catch(() => {}); // the caller awaits it; avoid an unhandled rejection if it never does
  let done = false;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== at.path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Not found\n');
      return;
    }
    if (done) {
      res
        .writeHead(410, { 'content-type': 'text/html; charset=utf-8', connection: 'close' })
        .end(page('Already handled', 'This login attempt is already finished. You can close this tab.'));
      return;
    }
    done = true;
    try {
      const value = checkCallbackParams(url.searchParams, expect);
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' })
        .end(page('Signed in', 'mcp-client received the authorization. You can close this tab and return to the terminal.'));
      settle?.resolve(value);
    } catch (error) {
      const message =
        error instanceof CliError && error.code === 'access_denied'
          ? 'The request was denied. You can close this tab.'
          : 'mcp-client could not accept this authorization response. You can close this tab; the terminal says what to do next.';
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(page('Login failed', message));
      settle?.reject(error);
    }
  };

  const servers: Server[] = [];
  const closeAll = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  const first = createServer(handler);
  await bind(first, at.port, at.host === '[::1]' ? '::1' : '127.0.0.1');
  servers.push(first);
  const port = (first.address() as AddressInfo).port;
  if (at.host === 'localhost') {
    const second = createServer(handler);
    try {
      await bind(second, port, '::1');
      servers.push(second);
    } catch (error) {
      // No IPv6 loopback here: 127.0.0.1 alone serves localhost. Someone else on [::1]:port
      // would receive what the browser sends there, so that port is not ours.
      if (error instanceof PortInUse) {
        await closeAll();
        throw error;
      }
    }
  }
  const redirectUri = formatLoopbackUri(at, port);

  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    settle?.reject(
      new CliError('timeout', `No authorization response arrived at ${redirectUri} within ${Math.round(expect.timeoutMs / 1000)} s.`, {
        hint: 'Finish the login in the browser sooner or pass --timeout <seconds>. If the browser showed an error about the client, run login again with --new-client.',
      }),
    );
  }, expect.timeoutMs);

  const close = async (): Promise<void> => {
    clearTimeout(timer);
    await closeAll();
  };
  // Stop listening as soon as the attempt settles (response already flushed by then).
  result.then(
    () => setImmediate(() => void close()),
    () => setImmediate(() => void close()),
  );
  return { port, redirectUri, result, close };
}

/** Builds the authorization URL (PKCE S256 via the SDK) for this attempt. */
export async function buildAuthorizationUrl(options: {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  redirectUri: string;
  scope: string | undefined;
  state: string;
  /** RFC 8707; undefined only where the AS is not known to take it (2025-03-26 discovery). */
  resource: string | undefined;
}): Promise<{ authorizationUrl: URL; codeVerifier: string }> {
  const { authorizationUrl, codeVerifier } = await startAuthorization(options.issuer, {
    metadata: options.metadata,
    clientInformation: options.client,
    redirectUrl: options.redirectUri,
    ...(options.scope ? { scope: options.scope } : {}),
    state: options.state,
    ...(options.resource ? { resource: options.resource } : {}),
  });
  if (authorizationUrl.protocol !== 'https:' && authorizationUrl.protocol !== 'http:') {
    throw new CliError('invalid_as_metadata', `The authorization endpoint ${authorizationUrl.protocol} URL is not http(s); refusing to open it.`);
  }
  return { authorizationUrl, codeVerifier };
}

/**
 * Scope selection (MCP authorization spec, "Scope Selection Strategy"): --scope, else the
 * challenge's scope, else the PRM's scopes_supported, else none. `offline_access` is added
 * when the AS advertises it (so it may issue a refresh token), unless --scope was given.
 */
export function selectScope(options: {
  override?: string | undefined;
  challengeScope?: string | undefined;
  scopesSupported?: string[] | undefined;
  asScopesSupported?: string[] | undefined;
}): { scope: string | undefined; source: 'flag' | 'challenge' | 'resource_metadata' | 'none' } {
  if (options.override !== undefined) return { scope: options.override.trim() || undefined, source: 'flag' };
  let scope: string | undefined;
  let source: 'challenge' | 'resource_metadata' | 'none' = 'none';
  if (options.challengeScope?.trim()) {
    scope = options.challengeScope.trim();
    source = 'challenge';
  } else if (options.scopesSupported?.length) {
    scope = options.scopesSupported.join(' ');
    source = 'resource_metadata';
  }
  if (scope && options.asScopesSupported?.includes('offline_access') && !scope.split(/\s+/).includes('offline_access')) {
    scope = `${scope} offline_access`;
  }
  return { scope, source };
}

/** Opens the system browser; false if that failed (the URL is printed anyway). */
export async function openBrowser(url: URL): Promise<boolean> {
  try {
    const child = await open(url.href, { wait: false });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
