/**
 * Steps 1–3 in order (each step is in discover.ts): the challenge, the protected resource
 * metadata (RFC 9728) and the authorization server it names — or, for a server without any
 * protected resource metadata, 2025-03-26 discovery (legacy-discovery.ts). Also: the
 * authorization server of stored tokens, found again the way the login found it.
 */
import type { ResourceEntry } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { CliError } from '../errors.ts';
import { discoverAuthorizationServer, discoverResourceMetadata, probeChallenge, reportChallenge, reportDeviation, requireUnauthorized } from './discover.ts';
import type { AuthServerResult, Challenge, ResourceMetadataResult } from './discover.ts';
import { LEGACY_DISCOVERY, authorizationBaseUrl, fallsBackToLegacy, legacyAuthorizationServer, reportNoResourceMetadata } from './legacy-discovery.ts';

export type DiscoveryMode = 'rfc9728' | typeof LEGACY_DISCOVERY;

export interface Discovery {
  serverUrl: URL;
  challenge: Challenge;
  /** The protected resource metadata; undefined under 2025-03-26 discovery. */
  prm: ResourceMetadataResult | undefined;
  as: AuthServerResult;
  /** What the tokens are for and stored under: the PRM's resource, else (2025-03-26) the MCP server URL. */
  resource: string;
  /** The RFC 8707 resource parameter; undefined where the AS is not known to take one (2025-03-26 only). */
  resourceParameter: string | undefined;
  mode: DiscoveryMode;
}

/**
 * Step 1 when the probe is not answered with 401: some servers let the handshake through
 * without a token (2025 `initialize`) or refuse the probe for another reason (a stateless
 * 2026 server wants its headers). Then open a real MCP session without a token, as any
 * MCP client would, and take the first 401 it meets. Undefined if nothing asked for one.
 */
export type SessionProbe = (serverUrl: URL, trace: Trace) => Promise<Challenge | undefined>;

export interface DiscoverOptions {
  /** A 401 challenge already in hand (from an MCP request): no probe. */
  challenge?: Challenge | undefined;
  /** The fallback when the probe draws no 401 (see SessionProbe). */
  sessionProbe?: SessionProbe | undefined;
  /** false for client_credentials, which uses no authorization endpoint. */
  requirePkce?: boolean;
}

/** Steps 1–3 in order. */
export async function discover(serverUrl: URL, trace: Trace, options: DiscoverOptions = {}): Promise<Discovery> {
  let challenge = options.challenge;
  if (challenge) {
    // A 401, or a 403 insufficient_scope (step-up) that may name the metadata too.
    reportChallenge(serverUrl, challenge, trace, 0, 'mcp_request');
  } else {
    challenge = await probeChallenge(serverUrl, trace);
    if (challenge.status !== 401 && options.sessionProbe) {
      const start = performance.now();
      trace.note(`${serverUrl.href} answered the probe with ${challenge.status}; opening an MCP session without a token to find its challenge`);
      const found = await options.sessionProbe(serverUrl, trace);
      if (found) {
        challenge = found;
        reportChallenge(serverUrl, found, trace, since(start), 'mcp_request');
      }
    }
  }
  requireUnauthorized(challenge, serverUrl);
  const userLogin = options.requirePkce ?? true;
  const start = performance.now();
  const mark = trace.requests.length;
  let prm: ResourceMetadataResult;
  try {
    prm = await discoverResourceMetadata(serverUrl, challenge, trace);
  } catch (error) {
    const tried = trace.requests.slice(mark);
    if (!fallsBackToLegacy(error, challenge, tried)) throw error;
    reportDeviation(reportNoResourceMetadata(serverUrl, tried, trace, since(start)), trace);
    const as = await legacyAuthorizationServer(authorizationBaseUrl(serverUrl), trace, { userLogin });
    return {
      serverUrl,
      challenge,
      prm: undefined,
      as,
      resource: serverUrl.href,
      resourceParameter: as.resourceParameter ? serverUrl.href : undefined,
      mode: LEGACY_DISCOVERY,
    };
  }
  const issuerUrl = prm.metadata.authorization_servers?.[0];
  if (!issuerUrl) throw new CliError('no_authorization_server', 'No authorization server listed.');
  const as = await discoverAuthorizationServer(issuerUrl, trace, { requirePkce: userLogin });
  return { serverUrl, challenge, prm, as, resource: prm.resource, resourceParameter: prm.resource, mode: 'rfc9728' };
}

/** The authorization server of stored tokens, found again as the login found it (2025-03-26: at the issuer, which is the origin). */
export function storedAuthorizationServer(issuer: string, entry: ResourceEntry, trace: Trace): Promise<AuthServerResult> {
  return entry.discovery === LEGACY_DISCOVERY ? legacyAuthorizationServer(issuer, trace, { userLogin: true }) : discoverAuthorizationServer(issuer, trace);
}

/** The resource parameter of a stored entry's token requests: whatever the login sent. */
export function storedResourceParameter(entry: ResourceEntry): string | undefined {
  return entry.resource_parameter === false ? undefined : entry.resource;
}
