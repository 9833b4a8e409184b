/**
 * 2025-03-26 discovery: the fallback for MCP servers without protected resource metadata
 * (MCP authorization 2025-03-26, "Server Metadata Discovery", "Authorization Base URL",
 * "Fallbacks for Servers without Metadata Discovery"). Only when the 401 names no
 * resource_metadata and the well-known URLs have none, the MCP server's origin is taken as
 * the authorization server: its RFC 8414 metadata at <origin>/.well-known/oauth-authorization-server,
 * else the default endpoints /authorize, /token and /register on that origin.
 *
 * Everything else stays as strict as RFC 9728 discovery: a metadata document's issuer must
 * be the origin, PKCE S256 and state are always sent (an AS that advertises no PKCE methods
 * gets S256 anyway, with a warning), and the resource parameter goes only to an AS whose
 * metadata says resource_indicators_supported: true. Credentials are stored under the origin
 * as the issuer: bound to this authorization server like any other.
 */
import { CliError } from '../errors.ts';
import { since } from '../trace.ts';
import type { HttpRecord, Trace } from '../trace.ts';
import { assessAsMetadata } from './as-metadata.ts';
import type { AsMetadata } from './as-metadata.ts';
import { fetchMetadataDocument, refusal, reportDeviation } from './discover.ts';
import type { AuthServerResult, Challenge } from './discover.ts';
import { deviation } from './rules.ts';
import type { Deviation } from './rules.ts';

/** How the trace and the store name this discovery. */
export const LEGACY_DISCOVERY = 'legacy-2025-03-26';
const LABEL = 'legacy discovery (spec 2025-03-26)';
/** Sent as MCP-Protocol-Version with the metadata request ("Server Metadata Discovery Headers"). */
const PROTOCOL_VERSION = '2025-03-26';

export interface LegacyAuthServer extends AuthServerResult {
  /** The authorization base URL (the MCP server's origin), taken as the authorization server. */
  base: string;
  /** An RFC 8414 document was found there; otherwise the default endpoints are assumed. */
  metadataFound: boolean;
  /** What this discovery took for granted, as the trace shows it. */
  assumed: string[];
  /** The AS takes the resource parameter (its metadata says resource_indicators_supported: true). */
  resourceParameter: boolean;
}

/** "Authorization Base URL": the MCP server URL without its path. */
export function authorizationBaseUrl(serverUrl: URL): string {
  return serverUrl.origin;
}

/**
 * Whether the protected resource metadata lookup ended in "there is none", the one case that
 * falls back: the challenge named no resource_metadata (a named document that fails is the
 * server's bug), and the well-known URLs answered 4xx or a proxy's 502 — not a document that
 * does not parse, nor a server failing with 5xx.
 */
export function fallsBackToLegacy(error: unknown, challenge: Challenge, tried: HttpRecord[]): boolean {
  if (!(error instanceof CliError) || error.code !== 'no_resource_metadata' || challenge.resourceMetadataUrl) return false;
  const status = tried.at(-1)?.status;
  return status !== undefined && ((status >= 400 && status < 500) || status === 502);
}

/** The `resource_metadata` step that found none and falls back; returns the deviation it is. */
export function reportNoResourceMetadata(serverUrl: URL, tried: HttpRecord[], trace: Trace, ms: number): Deviation {
  const answers = tried.map((r) => `${r.url} ${r.status}`).join(', ');
  trace.step('resource_metadata', { found: false, tried, fallback: LEGACY_DISCOVERY, ms }, `none found (tried ${answers}): falling back to ${LABEL}`, false);
  return deviation(
    'legacy.no_resource_metadata',
    `The 401 of ${serverUrl.href} names no resource_metadata, and ${tried.map((r) => `${new URL(r.url).pathname} answered ${r.status}`).join(', ')}.`,
  );
}

/** The default endpoints of "Fallbacks for Servers without Metadata Discovery", as metadata. */
function defaultMetadata(base: string): AsMetadata {
  return {
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    response_types_supported: ['code'],
  };
}

/**
 * The authorization server by 2025-03-26 discovery, judged but not enforced (doctor collects
 * what a login would refuse): one `authorization_server_metadata` step, no deviation steps.
 */
export async function examineLegacyAuthorizationServer(base: string, trace: Trace, options: { userLogin: boolean }): Promise<LegacyAuthServer> {
  const start = performance.now();
  const mark = trace.requests.length;
  const metadataUrl = `${base}/.well-known/oauth-authorization-server`;
  const found = await fetchMetadataDocument([{ url: metadataUrl, kind: 'oauth' }], trace, PROTOCOL_VERSION);
  const tried = trace.requests.slice(mark);
  const { metadata, deviations: judged } = assessAsMetadata(found ? found.raw : defaultMetadata(base), {
    expectedIssuer: base,
    kind: 'oauth',
    url: found?.url ?? metadataUrl,
    userLogin: options.userLogin,
    assumePkce: true,
  });
  const resourceParameter = metadata.resource_indicators_supported === true;
  const deviations = [
    ...(found ? [] : [deviation('legacy.default_endpoints', `No RFC 8414 metadata at ${metadataUrl} (${tried.at(-1)?.status ?? tried.at(-1)?.error}).`)]),
    ...judged,
    ...(resourceParameter
      ? []
      : [
          deviation(
            'legacy.resource_parameter',
            found
              ? `The metadata at ${found.url} does not say resource_indicators_supported: true; no resource parameter is sent.`
              : 'Without metadata nothing says the server takes a resource parameter; none is sent.',
          ),
        ]),
  ];
  const assumed = [
    `the authorization server is the MCP server's origin ${base}`,
    ...(found ? [] : ['its endpoints are /authorize, /token and /register']),
    ...(options.userLogin && metadata.code_challenge_methods_supported === undefined ? ['it takes PKCE S256'] : []),
  ];
  const result: LegacyAuthServer = {
    metadata,
    issuer: typeof metadata.issuer === 'string' ? metadata.issuer : base,
    url: found?.url,
    tried,
    deviations,
    base,
    metadataFound: Boolean(found),
    assumed,
    resourceParameter,
  };
  report(result, metadataUrl, trace, since(start));
  return result;
}

/** 2025-03-26 discovery for a login: tolerated deviations are shown, a refused one stops the flow. */
export async function legacyAuthorizationServer(base: string, trace: Trace, options: { userLogin: boolean }): Promise<LegacyAuthServer> {
  const result = await examineLegacyAuthorizationServer(base, trace, options);
  for (const d of result.deviations.filter((d) => d.verdict === 'tolerated')) reportDeviation(d, trace);
  const refused = result.deviations.find((d) => d.verdict === 'refused');
  if (refused?.id === 'as.issuer') {
    throw new CliError(
      'issuer_mismatch',
      `${refused.detail} Refusing to use it (RFC 8414 §3.3): without protected resource metadata the authorization server can only be the MCP server's origin ${base}.`,
      {
        hint: 'The MCP server should publish protected resource metadata (RFC 9728) that names its authorization server.',
      },
    );
  }
  if (refused) throw refusal(refused, base);
  return result;
}

/** The `authorization_server_metadata` step of this discovery: what was found, and what was assumed. */
function report(r: LegacyAuthServer, metadataUrl: string, trace: Trace, ms: number): void {
  const { metadata } = r;
  const refused = r.deviations.filter((d) => d.verdict === 'refused');
  const methods = metadata.code_challenge_methods_supported;
  const issSupported = metadata.authorization_response_iss_parameter_supported === true;
  const endpoints =
    `authorize=${metadata.authorization_endpoint} token=${metadata.token_endpoint}` +
    (metadata.registration_endpoint ? ` register=${metadata.registration_endpoint}` : '');
  const source = r.metadataFound
    ? `RFC 8414 metadata at ${r.url}: issuer=${metadata.issuer} ${endpoints} pkce=[${methods?.join(' ') ?? 'none advertised'}]${issSupported ? ' iss-in-response' : ''}`
    : `no RFC 8414 metadata at ${metadataUrl} (${r.tried.at(-1)?.status ?? r.tried.at(-1)?.error}): ${endpoints}`;
  trace.step(
    'authorization_server_metadata',
    {
      discovery: LEGACY_DISCOVERY,
      authorizationBaseUrl: r.base,
      url: r.url,
      tried: r.tried,
      metadataFound: r.metadataFound,
      assumed: r.assumed,
      resourceParameter: r.resourceParameter,
      issuer: metadata.issuer,
      authorizationEndpoint: metadata.authorization_endpoint,
      tokenEndpoint: metadata.token_endpoint,
      registrationEndpoint: metadata.registration_endpoint,
      revocationEndpoint: metadata.revocation_endpoint,
      codeChallengeMethodsSupported: methods,
      issParameterSupported: issSupported,
      clientIdMetadataDocumentSupported: metadata.client_id_metadata_document_supported === true,
      scopesSupported: metadata.scopes_supported,
      deviations: r.deviations.filter((d) => d.verdict !== 'advice').map((d) => d.id),
      ms,
    },
    refused.length
      ? `${LABEL}: ${refused.map((d) => d.detail).join(' ')}`
      : `${LABEL}: ${source}; assumed: ${r.assumed.join('; ')}; resource parameter ${r.resourceParameter ? 'sent (resource_indicators_supported)' : 'not sent (the server does not say it takes one)'}`,
    false,
  );
}
