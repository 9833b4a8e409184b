/**
 * `mcp-client doctor <url>`: discovery and (unless --no-register) a registration, without
 * logging in, and every deviation from the MCP authorization spec seen on the way, each
 * with its rule and reference (flow/rules.ts). For whoever deploys an MCP server.
 *
 * Side effects on the server: one registered client (RFC 7591), deleted again where the
 * authorization server offers RFC 7592, and two authorization requests that go no further
 * than its login page. Nothing is stored locally.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CliError } from './errors.ts';
import { selectScope } from './flow/authorize.ts';
import { assessAsMetadata } from './flow/as-metadata.ts';
import { describeAnswer, probeAuthorization } from './flow/authorization-probe.ts';
import type { ProbeAnswer } from './flow/authorization-probe.ts';
import { deregister, register, registrationMetadata, update } from './flow/dcr.ts';
import type { Registration } from './flow/dcr.ts';
import { describeTried, discoverResourceMetadata, fetchAsMetadataStep, reportAsMetadata, reportDeviation } from './flow/discover.ts';
import type { AsMetadata, Challenge, ResourceMetadataResult } from './flow/discover.ts';
import { probeChallenge, reportChallenge } from './flow/discover.ts';
import { authorizationBaseUrl, examineLegacyAuthorizationServer, fallsBackToLegacy, reportNoResourceMetadata } from './flow/legacy-discovery.ts';
import { sessionProbe } from './flow/login.ts';
import { formatLoopbackUri, FRESH_TARGET } from './flow/loopback.ts';
import { deviation } from './flow/rules.ts';
import type { Deviation } from './flow/rules.ts';
import { since } from './trace.ts';
import type { Trace } from './trace.ts';

export interface DoctorOptions {
  trace: Trace;
  /** false with --no-register: no registration and no authorization request. */
  register: boolean;
  scope?: string | undefined;
}

/** A loopback port that was free a moment ago: only written into the probe registration, never listened on. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function challengeDeviations(challenge: Challenge): Deviation[] {
  if (challenge.status !== 401) {
    return [
      deviation(
        'challenge.status',
        `A request without a token was answered ${challenge.status}${challenge.status === 403 ? ' (403 is for a token that lacks a scope)' : ''}, not 401.`,
      ),
    ];
  }
  const found: Deviation[] = [];
  if (!challenge.header) found.push(deviation('challenge.www_authenticate', 'The 401 has no WWW-Authenticate header.'));
  else if (challenge.scheme?.toLowerCase() !== 'bearer')
    found.push(deviation('challenge.www_authenticate', `The 401 challenges with ${challenge.scheme ?? 'an unknown scheme'}, not Bearer.`));
  if (challenge.header && !challenge.resourceMetadataUrl)
    found.push(deviation('challenge.resource_metadata', 'The Bearer challenge has no resource_metadata parameter.'));
  if (challenge.header && !challenge.scope) found.push(deviation('challenge.scope', 'The Bearer challenge has no scope parameter.'));
  return found;
}

const PRM_RULES: Record<string, Parameters<typeof deviation>[0]> = {
  no_resource_metadata: 'prm.found',
  invalid_resource_metadata: 'prm.found',
  resource_mismatch: 'prm.resource',
  no_authorization_server: 'prm.authorization_servers',
};

/** Collects deviations as they are seen, and shows each as a step. */
class Findings {
  readonly all: Deviation[] = [];
  readonly trace: Trace;
  constructor(trace: Trace) {
    this.trace = trace;
  }
  add(...found: Deviation[]): void {
    for (const d of found) {
      this.all.push(d);
      reportDeviation(d, this.trace);
    }
  }
  get refused(): boolean {
    return this.all.some((d) => d.verdict === 'refused');
  }
}

export async function doctor(options: DoctorOptions, url: URL): Promise<number> {
  const { trace } = options;
  const findings = new Findings(trace);
  const context: { issuer?: string; resource?: string } = {};
  // A server that cannot be reached is not a deviation: examine throws, and the command fails.
  await examine(options, url, findings, context);
  report(trace, url, findings.all, context);
  return findings.refused ? 1 : 0;
}

async function examine(options: DoctorOptions, url: URL, findings: Findings, context: { issuer?: string; resource?: string }): Promise<void> {
  const { trace } = options;

  // 1. The challenge (with the MCP-session fallback discover uses).
  let challenge = await probeChallenge(url, trace);
  if (challenge.status !== 401) {
    const start = performance.now();
    const found = await sessionProbe(url, trace);
    if (found) {
      challenge = found;
      reportChallenge(url, found, trace, since(start), 'mcp_request');
    }
  }
  findings.add(...challengeDeviations(challenge));
  if (challenge.status !== 401) return;

  // 2. Protected resource metadata; none at all: 2025-03-26 discovery, as a login would.
  let prm: ResourceMetadataResult;
  const prmStart = performance.now();
  const prmMark = trace.requests.length;
  try {
    prm = await discoverResourceMetadata(url, challenge, trace);
  } catch (error) {
    const prmTried = trace.requests.slice(prmMark);
    if (fallsBackToLegacy(error, challenge, prmTried)) {
      findings.add(reportNoResourceMetadata(url, prmTried, trace, since(prmStart)));
      await examineLegacy(options, url, challenge, findings, context);
      return;
    }
    const rule = error instanceof CliError ? PRM_RULES[error.code] : undefined;
    if (!rule) throw error;
    findings.add(deviation(rule, (error as CliError).message));
    return;
  }
  context.resource = prm.resource;
  if (!prm.metadata.scopes_supported?.length) findings.add(deviation('prm.scopes_supported', 'The protected resource metadata has no scopes_supported.'));

  // 3. Authorization server metadata, every member judged.
  const issuerUrl = prm.metadata.authorization_servers![0]!;
  context.issuer = issuerUrl;
  const { found, tried, start } = await fetchAsMetadataStep(issuerUrl, trace);
  if (!found) {
    findings.add(deviation('as.found', `No metadata at ${describeTried(tried)}.`));
    return;
  }
  const assessment = assessAsMetadata(found.raw, { expectedIssuer: issuerUrl, kind: found.kind, url: found.url, userLogin: true });
  reportAsMetadata(found.url, tried, assessment, issuerUrl, trace, since(start));
  findings.add(...assessment.deviations);
  await registrationStep(
    options,
    assessment.metadata,
    issuerUrl,
    challenge,
    { resourceParameter: prm.resource, scopesSupported: prm.metadata.scopes_supported },
    findings,
  );
}

/** Step 3 under 2025-03-26 discovery: the origin's RFC 8414 metadata or its default endpoints; then step 4 as usual. */
async function examineLegacy(
  options: DoctorOptions,
  url: URL,
  challenge: Challenge,
  findings: Findings,
  context: { issuer?: string; resource?: string },
): Promise<void> {
  context.resource = url.href;
  const as = await examineLegacyAuthorizationServer(authorizationBaseUrl(url), options.trace, { userLogin: true });
  context.issuer = as.issuer;
  findings.add(...as.deviations);
  await registrationStep(
    options,
    as.metadata,
    as.issuer,
    challenge,
    { resourceParameter: as.resourceParameter ? url.href : undefined, scopesSupported: undefined },
    findings,
  );
}

/** 4. Registration and the authorization endpoint, unless a login would be refused or told not to touch the server. */
async function registrationStep(
  options: DoctorOptions,
  metadata: AsMetadata,
  issuer: string,
  challenge: Challenge,
  target: Target,
  findings: Findings,
): Promise<void> {
  const { trace } = options;
  if (findings.refused) {
    // Registering at a server the flow would refuse (a mismatched issuer above all) is what must not happen.
    trace.step('registration', { skipped: true, reason: 'refused' }, 'skipped: a login would already be refused above', false);
    return;
  }
  if (!options.register) {
    trace.step(
      'registration',
      { skipped: true, reason: '--no-register' },
      'skipped (--no-register): no client registered, no authorization request sent',
      false,
    );
    return;
  }
  if (!metadata.registration_endpoint) {
    trace.step(
      'registration',
      { skipped: true, reason: 'no registration_endpoint' },
      'skipped: the authorization server offers no Dynamic Client Registration',
      false,
    );
    return;
  }
  await registrationChecks(options, metadata, issuer, challenge, target, findings);
}

/** What the authorization requests are for: the resource parameter to send (if any) and the PRM's scopes. */
interface Target {
  resourceParameter: string | undefined;
  scopesSupported: string[] | undefined;
}

async function registrationChecks(
  options: DoctorOptions,
  metadata: AsMetadata,
  issuer: string,
  challenge: Challenge,
  target: Target,
  findings: Findings,
): Promise<void> {
  const { trace } = options;
  let start = performance.now();
  const redirectUri = formatLoopbackUri(FRESH_TARGET, await freePort());
  let registered: Registration;
  try {
    registered = await register(metadata.registration_endpoint!, registrationMetadata([redirectUri]), trace);
  } catch (error) {
    if (!(error instanceof CliError) || error.code === 'unreachable') throw error;
    trace.step('registration', { registered: false, error: error.code, message: error.message, ms: since(start) }, error.message, false);
    findings.add(deviation('registration.accepted', `${error.message.replace(/\.$/, '')} for redirect_uris=[${redirectUri}].`));
    return;
  }
  const manageable = Boolean(registered.registration_client_uri && registered.registration_access_token);
  trace.step(
    'registration',
    {
      registered: true,
      clientId: registered.client_id,
      redirectUri,
      redirectUris: registered.redirect_uris,
      registrationManagement: manageable,
      ms: since(start),
    },
    `registered client_id=${registered.client_id} with redirect_uris=[${redirectUri}] (a probe: ${manageable ? 'deleted again below' : 'the server offers no RFC 7592 deletion, so it stays registered'})`,
  );
  if (registered.redirect_uris && !registered.redirect_uris.includes(redirectUri)) {
    findings.add(
      deviation('registration.redirect_uris', `The registration response lists redirect_uris=[${registered.redirect_uris.join(', ')}], not ${redirectUri}.`),
    );
  }
  if (!manageable) findings.add(deviation('registration.management', 'The registration response has no registration_client_uri / registration_access_token.'));

  try {
    const { scope } = selectScope({
      override: options.scope,
      challengeScope: challenge.scope,
      scopesSupported: target.scopesSupported,
      asScopesSupported: metadata.scopes_supported,
    });
    const probe = (uri: string) =>
      probeAuthorization({ issuer, metadata, clientId: registered.client_id, redirectUri: uri, scope, resource: target.resourceParameter, trace });
    start = performance.now();
    const exact = await probe(redirectUri);
    let otherPort: { uri: string; answer: ProbeAnswer } | undefined;
    if (exact.kind === 'accepted') {
      const uri = formatLoopbackUri(FRESH_TARGET, await freePort());
      otherPort = { uri, answer: await probe(uri) };
    }
    trace.step(
      'authorization_request',
      { redirectUri, answer: exact, ...(otherPort ? { otherPortRedirectUri: otherPort.uri, otherPortAnswer: otherPort.answer } : {}), ms: since(start) },
      `with the registered ${redirectUri}: ${describeAnswer(exact)}` +
        (otherPort ? `; with ${otherPort.uri} (another port): ${describeAnswer(otherPort.answer)}` : ''),
      exact.kind === 'accepted',
    );
    if (exact.kind !== 'accepted') {
      findings.add(
        deviation(
          'authorization.registered_redirect_uri',
          `An authorization request (PKCE S256, ${target.resourceParameter ? `resource=${target.resourceParameter}` : 'no resource parameter'}) with the registered ${redirectUri} was ${describeAnswer(exact)}.`,
        ),
      );
    } else if (otherPort && otherPort.answer.kind !== 'accepted') {
      findings.add(
        deviation(
          'authorization.loopback_any_port',
          `Registered with ${redirectUri}, a request with ${otherPort.uri} was ${describeAnswer(otherPort.answer)}.`,
        ),
      );
    }
    if (manageable) {
      // The credentials alone do not say the server takes updates: try one, with nothing changed.
      const client = {
        client_id: registered.client_id,
        ...(registered.client_secret ? { client_secret: registered.client_secret } : {}),
        registration_client_uri: registered.registration_client_uri!,
        registration_access_token: registered.registration_access_token!,
      };
      try {
        const updated = await update(client, registrationMetadata([redirectUri]), trace);
        if (updated.registration_access_token) registered.registration_access_token = updated.registration_access_token;
        trace.step('registration_update', { updated: true }, 'the registration can be updated (RFC 7592)');
      } catch (error) {
        if (!(error instanceof CliError) || error.code === 'unreachable') throw error;
        trace.step('registration_update', { updated: false, message: error.message }, `updating the registration failed: ${error.message}`, false);
        findings.add(
          deviation('registration.management', `The registration response has registration_client_uri and registration_access_token, but ${error.message}.`),
        );
      }
    }
  } finally {
    if (manageable) {
      const status = await deregister(
        { registration_client_uri: registered.registration_client_uri!, registration_access_token: registered.registration_access_token! },
        trace,
      ).catch(() => undefined);
      trace.step(
        'deregistration',
        { clientId: registered.client_id, status },
        status === 204
          ? `deleted the probe client ${registered.client_id} (RFC 7592)`
          : `could not delete the probe client ${registered.client_id} (${status === undefined ? 'no answer' : `HTTP ${status}`})`,
        status === 204,
      );
    }
  }
}

function report(trace: Trace, url: URL, deviations: Deviation[], context: { issuer?: string; resource?: string }): void {
  const refused = deviations.some((d) => d.verdict === 'refused');
  const order = { refused: 0, tolerated: 1, advice: 2 } as const;
  const sorted = [...deviations].sort((a, b) => order[a.verdict] - order[b.verdict]);
  const lines = [
    `${url.href}${context.issuer ? ` (authorization server ${context.issuer})` : ''}: ${deviations.length === 0 ? 'no deviation from the MCP authorization spec seen' : `${deviations.length} deviation${deviations.length === 1 ? '' : 's'} from the MCP authorization spec`}; ${refused ? 'mcp-client cannot log in here' : 'mcp-client can log in here'}.`,
  ];
  for (const d of sorted) {
    lines.push(
      '',
      `${d.verdict.padEnd(9)}  ${d.id}`,
      `           ${d.detail}`,
      `           rule:      ${d.rule}`,
      `           reference: ${d.reference}`,
      `           effect:    ${d.effect}`,
    );
  }
  trace.result(
    {
      command: 'doctor',
      serverUrl: url.href,
      resource: context.resource,
      issuer: context.issuer,
      loginPossible: !refused,
      deviations: sorted.map((d) => ({ id: d.id, verdict: d.verdict, detail: d.detail, rule: d.rule, reference: d.reference, effect: d.effect })),
    },
    lines.join('\n'),
  );
}
