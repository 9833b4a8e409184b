/**
 * Steps 1–3, one by one: from an MCP server URL to a validated authorization server
 * (discovery.ts runs them in order; legacy-discovery.ts is the 2025-03-26 fallback).
 *
 * 1. challenge                      POST an MCP request without a token → 401 + WWW-Authenticate
 * 2. resource_metadata              RFC 9728: challenged URL, else path-aware then root well-known
 * 3. authorization_server_metadata  RFC 8414 then OIDC discovery (spec order), issuer echo, PKCE S256;
 *                                   harmless gaps in the metadata are tolerated (as-metadata.ts)
 */
import {
  LATEST_PROTOCOL_VERSION,
  checkResourceAllowed,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from '@modelcontextprotocol/client';
import type { OAuthProtectedResourceMetadata } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import { canonicalResource } from '../store.ts';
import { since } from '../trace.ts';
import type { HttpRecord, Trace } from '../trace.ts';
import { assessAsMetadata, discoveryUrls } from './as-metadata.ts';
import type { AsMetadata, Assessment, DocumentKind } from './as-metadata.ts';
import type { Deviation } from './rules.ts';

export type { AsMetadata } from './as-metadata.ts';

export interface Challenge {
  status: number;
  /** The raw WWW-Authenticate header, if any. */
  header?: string;
  /** The auth scheme of the challenge (Bearer, DPoP). */
  scheme?: string;
  resourceMetadataUrl?: string;
  scope?: string;
  error?: string;
  errorDescription?: string;
  /** The request that drew it, when it came from an MCP session rather than the probe. */
  url?: string;
  method?: string;
  rpcMethod?: string;
}

export interface ResourceMetadataResult {
  metadata: OAuthProtectedResourceMetadata;
  /** Where the document was found. */
  url: string | undefined;
  /** The RFC 8707 resource to request: the PRM `resource`, verbatim. */
  resource: string;
  /** How `resource` relates to the URL we were given. */
  match: 'exact' | 'prefix';
  tried: HttpRecord[];
}

export interface AuthServerResult {
  metadata: AsMetadata;
  /** The validated issuer identifier (the metadata's `issuer`). */
  issuer: string;
  /** Where the document was found. */
  url: string | undefined;
  tried: HttpRecord[];
  /** Every deviation from the rules the document showed (rules.ts), advice included. */
  deviations: Deviation[];
}

/** Parses a URL given on the command line: absolute http(s), no fragment. */
export function parseServerUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError('usage', `Not a URL: ${value}`, { hint: 'Give the MCP endpoint, e.g. http://localhost:3000/mcp', exitCode: 2 });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('usage', `Not an http(s) URL: ${value}`, { hint: 'Give the MCP endpoint, e.g. http://localhost:3000/mcp', exitCode: 2 });
  }
  url.hash = '';
  return url;
}

/** Parses a WWW-Authenticate header (via the SDK's parser) into a Challenge. */
export function parseChallenge(response: Response): Challenge {
  const header = response.headers.get('www-authenticate') ?? undefined;
  const challenge: Challenge = { status: response.status };
  if (!header) return challenge;
  challenge.header = header;
  challenge.scheme = /^\s*([A-Za-z][\w.+-]*)/.exec(header)?.[1];
  const params = extractWWWAuthenticateParams(response);
  if (params.resourceMetadataUrl) challenge.resourceMetadataUrl = params.resourceMetadataUrl.href;
  if (params.scope) challenge.scope = params.scope;
  if (params.error) challenge.error = params.error;
  if (params.errorDescription) challenge.errorDescription = params.errorDescription;
  return challenge;
}

/** How a challenge is shown as the `challenge` step. */
export function reportChallenge(serverUrl: URL, challenge: Challenge, trace: Trace, ms: number, via: 'probe' | 'mcp_request'): void {
  const parts = [`${challenge.status}`];
  if (via === 'mcp_request' && challenge.rpcMethod) parts.unshift(`${challenge.rpcMethod} →`);
  if (challenge.scheme) parts.push(challenge.scheme);
  if (challenge.resourceMetadataUrl) parts.push(`resource_metadata=${challenge.resourceMetadataUrl}`);
  if (challenge.scope) parts.push(`scope="${challenge.scope}"`);
  if (challenge.error) parts.push(`error=${challenge.error}`);
  if (challenge.status === 401 && !challenge.header) parts.push('(no WWW-Authenticate header: falling back to well-known URLs)');
  else if (challenge.status === 401 && !challenge.resourceMetadataUrl) parts.push('(no resource_metadata: falling back to well-known URLs)');
  trace.step(
    'challenge',
    {
      url: challenge.url ?? serverUrl.href,
      via,
      ...(challenge.rpcMethod ? { rpcMethod: challenge.rpcMethod } : {}),
      status: challenge.status,
      wwwAuthenticate: challenge.header,
      scheme: challenge.scheme,
      resourceMetadata: challenge.resourceMetadataUrl,
      scope: challenge.scope,
      error: challenge.error,
      errorDescription: challenge.errorDescription,
      ms,
    },
    parts.join(' '),
    challenge.status === 401 || (challenge.status === 403 && challenge.error === 'insufficient_scope'),
  );
}

/** Step 1: an MCP request without a token, expecting 401 and a Bearer challenge. */
export async function probeChallenge(serverUrl: URL, trace: Trace): Promise<Challenge> {
  const start = performance.now();
  let response: Response;
  try {
    response = await trace.fetch(serverUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcp-client', version: '0.1.0' } },
      }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw unreachable('MCP server', serverUrl, error);
  }
  await response.body?.cancel().catch(() => {});
  const challenge = parseChallenge(response);
  reportChallenge(serverUrl, challenge, trace, since(start), 'probe');
  return challenge;
}

/** Refuses anything but a 401 where the flow needs one. */
export function requireUnauthorized(challenge: Challenge, serverUrl: URL): void {
  if (challenge.status === 401) return;
  if (challenge.status === 403 && challenge.error === 'insufficient_scope') return; // step-up: same discovery
  if (challenge.status >= 200 && challenge.status < 300) {
    throw new CliError(
      'no_challenge',
      `${serverUrl.href} answered ${challenge.status} to a request without a token: it does not ask for authorization, so there is nothing to log in to.`,
      {
        hint: 'Check that this is the protected MCP endpoint (e.g. …/mcp), or use `mcp-client tools` directly.',
      },
    );
  }
  if (challenge.status === 404) {
    throw new CliError('no_challenge', `${serverUrl.href} answered 404: there is no MCP endpoint at this path.`, {
      hint: 'Check the URL path (the MCP endpoint is usually …/mcp).',
    });
  }
  throw new CliError('no_challenge', `${serverUrl.href} answered ${challenge.status} instead of 401 with a WWW-Authenticate challenge.`, {
    hint: 'The server must answer an unauthenticated MCP request with 401 and `WWW-Authenticate: Bearer resource_metadata="…"`.',
  });
}

/** Step 2: RFC 9728 protected resource metadata, and the resource check. */
export async function discoverResourceMetadata(serverUrl: URL, challenge: Challenge, trace: Trace): Promise<ResourceMetadataResult> {
  const start = performance.now();
  const mark = trace.requests.length;
  let metadata: OAuthProtectedResourceMetadata;
  try {
    metadata = await discoverOAuthProtectedResourceMetadata(
      serverUrl,
      challenge.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : undefined,
      trace.fetch,
    );
  } catch (error) {
    const tried = trace.requests.slice(mark);
    if (isNetworkError(error)) throw unreachable('MCP server', tried.at(-1)?.url ?? serverUrl, error);
    const where = tried.map((r) => `${r.url} (${r.status ?? r.error})`).join(', ') || serverUrl.href;
    if (error instanceof Error && error.name === 'ZodError') {
      throw new CliError('invalid_resource_metadata', `The protected resource metadata is not a valid RFC 9728 document: ${where}.`, { cause: error });
    }
    throw new CliError('no_resource_metadata', `No protected resource metadata (RFC 9728) found; tried ${where}.`, {
      hint: challenge.resourceMetadataUrl
        ? 'The resource_metadata URL in the challenge does not serve the document; fix the resource server.'
        : 'The resource server must serve /.well-known/oauth-protected-resource[/<path>] or name it in WWW-Authenticate.',
      cause: error,
    });
  }
  const tried = trace.requests.slice(mark);
  const url = tried.findLast((r) => r.status !== undefined && r.status >= 200 && r.status < 300)?.url;

  const resource = metadata.resource;
  const exact = canonicalResource(resource) === canonicalResource(serverUrl.href);
  const allowed = exact || checkResourceAllowed({ requestedResource: serverUrl, configuredResource: resource });
  const servers = metadata.authorization_servers ?? [];
  trace.step(
    'resource_metadata',
    {
      url,
      tried,
      resource,
      resourceMatches: exact ? 'exact' : allowed ? 'prefix' : false,
      authorizationServers: servers,
      scopesSupported: metadata.scopes_supported,
      bearerMethodsSupported: metadata.bearer_methods_supported,
      ms: since(start),
    },
    `resource=${resource} (${exact ? 'matches' : allowed ? 'covers' : 'does NOT match'} ${serverUrl.href}) authorization_servers=[${servers.join(', ')}]` +
      (metadata.scopes_supported ? ` scopes_supported=[${metadata.scopes_supported.join(' ')}]` : ''),
    allowed && servers.length > 0,
  );
  if (!allowed) {
    throw new CliError(
      'resource_mismatch',
      `The protected resource metadata is for ${resource}, not for ${serverUrl.href}; refusing to use it (RFC 9728 §3.3).`,
      {
        hint: "Use the exact MCP endpoint URL the server advertises as its resource, or fix the server's `resource`.",
      },
    );
  }
  if (servers.length === 0) {
    throw new CliError('no_authorization_server', `The protected resource metadata for ${resource} names no authorization_servers.`, {
      hint: 'The resource server must list its authorization server in `authorization_servers`.',
    });
  }
  return { metadata, url, resource, match: exact ? 'exact' : 'prefix', tried };
}

/** The first metadata document found in the spec's order, unjudged; undefined if none. */
export function fetchAsMetadata(issuerUrl: string, trace: Trace): Promise<{ raw: unknown; url: string; kind: DocumentKind } | undefined> {
  return fetchMetadataDocument(discoveryUrls(issuerUrl), trace);
}

/** The first of `candidates` that answers with a document, unjudged; undefined if none does. */
export async function fetchMetadataDocument(
  candidates: { url: string; kind: DocumentKind }[],
  trace: Trace,
  protocolVersion: string = LATEST_PROTOCOL_VERSION,
): Promise<{ raw: unknown; url: string; kind: DocumentKind } | undefined> {
  for (const { url, kind } of candidates) {
    let response: Response;
    try {
      response = await trace.fetch(url, {
        headers: { accept: 'application/json', 'mcp-protocol-version': protocolVersion },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw unreachable('authorization server', url, error);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      // As the SDK does: a 4xx (or a 502 from a proxy) means "not here", any other 5xx is a failure.
      if (response.status < 500 || response.status === 502) continue;
      throw new CliError('invalid_as_metadata', `The authorization server metadata at ${url} answered HTTP ${response.status}.`, {
        hint: 'The authorization server is failing; try again later or tell its operator.',
      });
    }
    let raw: unknown;
    try {
      raw = await response.json();
    } catch {
      raw = undefined;
    }
    return { raw, url, kind };
  }
  return undefined;
}

/** The error that stops the flow for a refused deviation of the AS metadata. */
export function refusal(d: Deviation, issuerUrl: string): CliError {
  if (d.id === 'as.issuer') {
    return new CliError('issuer_mismatch', `${d.detail} Refusing to use it (RFC 8414 §3.3).`, {
      hint: "The AS `issuer` must be identical to the URL listed in the resource's authorization_servers.",
    });
  }
  if (d.id === 'as.pkce_s256') {
    return new CliError('pkce_unsupported', `The authorization server ${issuerUrl} does not advertise PKCE with S256 (${d.detail}); refusing to continue.`, {
      hint: 'MCP requires PKCE S256: the AS metadata must list "S256" in code_challenge_methods_supported.',
    });
  }
  return new CliError('invalid_as_metadata', `The authorization server metadata for ${issuerUrl} cannot be used: ${d.detail}`, {
    hint: `${d.rule} (${d.reference})`,
  });
}

/**
 * Step 3: RFC 8414 / OIDC discovery, each member judged (as-metadata.ts): refused deviations
 * (issuer mismatch, no PKCE S256, no usable endpoints) stop the flow, tolerated ones are
 * shown as `deviation` steps and the flow goes on.
 */
export async function discoverAuthorizationServer(issuerUrl: string, trace: Trace, options: { requirePkce?: boolean } = {}): Promise<AuthServerResult> {
  const { found, tried, start } = await fetchAsMetadataStep(issuerUrl, trace);
  if (!found) {
    throw new CliError('no_as_metadata', `No authorization server metadata for ${issuerUrl}; tried ${describeTried(tried)}.`, {
      hint: 'The AS must serve RFC 8414 (/.well-known/oauth-authorization-server) or OpenID Connect discovery metadata.',
    });
  }
  const userLogin = options.requirePkce !== false;
  const assessment = assessAsMetadata(found.raw, { expectedIssuer: issuerUrl, kind: found.kind, url: found.url, userLogin });
  const { metadata, deviations } = assessment;
  reportAsMetadata(found.url, tried, assessment, issuerUrl, trace, since(start));
  for (const d of deviations.filter((d) => d.verdict === 'tolerated')) reportDeviation(d, trace);
  const refused = deviations.find((d) => d.verdict === 'refused');
  if (refused) throw refusal(refused, issuerUrl);
  return { metadata, issuer: metadata.issuer, url: found.url, tried, deviations };
}

/**
 * The AS metadata documents tried for `issuerUrl` (RFC 8414 and OIDC, in order) and the one
 * found; when none is, the `authorization_server_metadata` step says where it looked.
 */
export async function fetchAsMetadataStep(issuerUrl: string, trace: Trace) {
  const start = performance.now();
  const mark = trace.requests.length;
  const found = await fetchAsMetadata(issuerUrl, trace);
  const tried = trace.requests.slice(mark);
  if (!found) {
    trace.step(
      'authorization_server_metadata',
      { tried, ms: since(start) },
      `no metadata document found (tried ${tried.map((r) => `${r.url} ${r.status ?? r.error}`).join(', ')})`,
      false,
    );
  }
  return { found, tried, start };
}

/** "url (status), url (error)" of the requests tried. */
export function describeTried(tried: HttpRecord[]): string {
  return tried.map((r) => `${r.url} (${r.status ?? r.error})`).join(', ');
}

/** The `authorization_server_metadata` step: endpoints and capabilities, or what was refused. */
export function reportAsMetadata(url: string, tried: HttpRecord[], { metadata, deviations }: Assessment, issuerUrl: string, trace: Trace, ms: number): void {
  const refused = deviations.filter((d) => d.verdict === 'refused');
  const methods = metadata.code_challenge_methods_supported;
  const issSupported = metadata.authorization_response_iss_parameter_supported === true;
  trace.step(
    'authorization_server_metadata',
    {
      url,
      tried,
      issuer: metadata.issuer,
      ...(typeof metadata.issuer === 'string' && metadata.issuer !== issuerUrl ? { expectedIssuer: issuerUrl } : {}),
      authorizationEndpoint: metadata.authorization_endpoint,
      tokenEndpoint: metadata.token_endpoint,
      registrationEndpoint: metadata.registration_endpoint,
      revocationEndpoint: metadata.revocation_endpoint,
      codeChallengeMethodsSupported: methods,
      pkceS256: methods?.includes('S256') ?? false,
      issParameterSupported: issSupported,
      clientIdMetadataDocumentSupported: metadata.client_id_metadata_document_supported === true,
      scopesSupported: metadata.scopes_supported,
      deviations: deviations.filter((d) => d.verdict !== 'advice').map((d) => d.id),
      ms,
    },
    refused.length
      ? refused.map((d) => d.detail).join(' ')
      : `issuer=${metadata.issuer} authorize=${metadata.authorization_endpoint} token=${metadata.token_endpoint}` +
          (metadata.registration_endpoint ? ` register=${metadata.registration_endpoint}` : '') +
          ` pkce=[${methods?.join(' ') ?? 'none advertised'}]` +
          (issSupported ? ' iss-in-response' : '') +
          (metadata.client_id_metadata_document_supported === true ? ' client-id-metadata-documents' : ''),
    refused.length === 0,
  );
}

/** A deviation, shown where it was met: what was seen, and what mcp-client does about it. */
export function reportDeviation(d: Deviation, trace: Trace): void {
  trace.step(
    'deviation',
    { id: d.id, verdict: d.verdict, detail: d.detail, rule: d.rule, reference: d.reference, effect: d.effect },
    `${d.verdict}: ${d.detail} ${d.effect}`,
    false,
  );
}
