/**
 * Enterprise-managed authorization (MCP SEP-990; draft-ietf-oauth-identity-assertion-authz-grant):
 * the user signs in once, at the enterprise's IdP, and the IdP — not a consent screen at each
 * MCP server's authorization server — decides which MCP servers the user may use.
 *
 * 1. Sign-in at the IdP (`--enterprise-idp <issuer>`, client `--idp-client-id`): authorization
 *    code with PKCE S256 and scope `openid`, on the CLI's loopback callback (state, RFC 9207
 *    iss and the OIDC nonce checked) — or, with `--id-token-file`, an ID token already in hand.
 * 2. RFC 8693 token exchange at the IdP's token endpoint: the ID token
 *    (subject_token_type …:id_token) for an ID-JAG (requested_token_type …:id-jag), with
 *    audience = the issuer of the MCP server's authorization server (from its RFC 9728
 *    metadata) and resource = the MCP server.
 * 3. The ID-JAG redeemed at that authorization server with the JWT bearer grant (jwt-bearer.ts),
 *    the client (`--client-id`, with its secret or `--client-key`) authenticating.
 *
 * The trace shows each step — who issued what, for whom, until when — and never the ID
 * token, the ID-JAG or the access token.
 */
import { decodeJwt } from 'jose';
import { exchangeAuthorization, requestJwtAuthorizationGrant } from '@modelcontextprotocol/client';
import { CliError, isNetworkError, unreachable } from '../errors.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { PortInUse, buildAuthorizationUrl, newState, openBrowser, printable, selectScope, startCallbackServer, waitForBrowser } from './authorize.ts';
import { clientAuthentication } from './client-assertion.ts';
import { discoverAuthorizationServer } from './discover.ts';
import type { AuthServerResult } from './discover.ts';
import type { Discovery } from './discovery.ts';
import { JWT_BEARER_GRANT, expiry, jwtStep, peekJwt, readJwtFile, redeemJwtBearer, requireJwtBearer } from './jwt-bearer.ts';
import type { AssertionGrant, JwtSummary } from './jwt-bearer.ts';
import type { FlowOptions } from './login.ts';
import { FRESH_TARGET, parseLoopbackRedirectUri } from './loopback.ts';
import { machineClient } from './register.ts';
import { describe, summarize, tokenError } from './tokens.ts';

export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

export interface EnterpriseOptions {
  /** --enterprise-idp: the enterprise IdP's issuer identifier. */
  idpIssuer: string;
  /** --idp-client-id: mcp-client's client at the IdP (sign-in and token exchange). */
  idpClientId: string;
  /** --idp-client-secret or MCP_IDP_CLIENT_SECRET, if that client is confidential. */
  idpClientSecret?: string | undefined;
  /** --id-token-file: an ID token the IdP issued to that client, instead of signing in. */
  idTokenFile?: string | undefined;
}

/** ID tokens of this run, by IdP and client: a step-up exchanges the same one again instead of a second sign-in. */
const idTokens = new Map<string, string>();

/** At start-up, for the flag just given: the file exists and holds a JWT (exit 2 otherwise). */
export async function checkIdTokenFile(file: string): Promise<void> {
  await readJwtFile(file, 'ID token (a JWT)', '--id-token-file', true);
}

function idTokenStep(trace: Trace, source: string, summary: JwtSummary, clientId: string, start: number, problems: string[] = []): void {
  if (expiry(summary).expired) problems.push('the IdP will refuse it');
  if (!summary.aud.includes(clientId)) problems.push(`its aud is not ${clientId}`);
  jwtStep(trace, 'id_token', source, summary, problems, start, { source });
}

/** Step 1 with --id-token-file. */
async function idTokenFromFile(ent: EnterpriseOptions, idp: AuthServerResult, trace: Trace): Promise<string> {
  const start = performance.now();
  const file = ent.idTokenFile!;
  const { jwt, summary } = await readJwtFile(file, 'ID token (a JWT)', '--id-token-file', false);
  if (summary.iss !== idp.issuer) {
    throw new CliError(
      'id_token_issuer',
      `The ID token in ${file} was issued by ${JSON.stringify(summary.iss ?? null)}, not by --enterprise-idp ${idp.issuer}.`,
      {
        hint: 'Pass the issuer of the IdP that issued the ID token as --enterprise-idp; it exchanges only its own ID tokens.',
      },
    );
  }
  idTokenStep(trace, file, summary, ent.idpClientId, start);
  return jwt;
}

/** Step 1: sign-in at the IdP — authorization code, PKCE, openid, loopback callback; the ID token from its token endpoint. */
async function signIn(options: FlowOptions, ent: EnterpriseOptions, idp: AuthServerResult): Promise<string> {
  const { trace } = options;
  const state = newState();
  const nonce = newState();
  const at = options.redirectUri ? parseLoopbackRedirectUri(options.redirectUri) : FRESH_TARGET;
  let callback;
  try {
    callback = await startCallbackServer(
      {
        state,
        expectedIssuer: idp.issuer,
        issParameterSupported: idp.metadata.authorization_response_iss_parameter_supported === true,
        timeoutMs: options.timeoutMs,
      },
      at ?? FRESH_TARGET,
    );
  } catch (error) {
    if (!(error instanceof PortInUse)) throw error;
    throw new CliError(
      'port_in_use',
      `Cannot listen on ${options.redirectUri ?? 'a loopback port'} for the IdP's redirect (port ${error.port} is taken or privileged).`,
      {
        hint: 'Stop the program on that port, or pass another --redirect-uri registered for --idp-client-id.',
      },
    );
  }
  const client = { client_id: ent.idpClientId, ...(ent.idpClientSecret ? { client_secret: ent.idpClientSecret } : {}) };
  let start = performance.now();
  let code: string;
  let iss: string | undefined;
  let codeVerifier: string;
  try {
    const built = await buildAuthorizationUrl({
      issuer: idp.issuer,
      metadata: idp.metadata,
      client,
      redirectUri: callback.redirectUri,
      scope: 'openid',
      state,
      resource: undefined,
    });
    built.authorizationUrl.searchParams.set('nonce', nonce);
    codeVerifier = built.codeVerifier;
    const opened = options.noBrowser ? false : await openBrowser(built.authorizationUrl);
    trace.step(
      'authorization_url',
      {
        at: 'enterprise_idp',
        issuer: idp.issuer,
        authorizationUrl: built.authorizationUrl.href,
        redirectUri: callback.redirectUri,
        scope: 'openid',
        codeChallengeMethod: 'S256',
        browser: opened ? 'opened' : 'not_opened',
        timeoutSeconds: Math.round(options.timeoutMs / 1000),
        ms: since(start),
      },
      `sign in at your enterprise IdP ${idp.issuer} — ${opened ? 'opened in your browser' : 'open this URL in a browser to continue'}:\n    ${built.authorizationUrl.href}`,
    );
    start = performance.now();
    ({ code, iss } = await waitForBrowser(callback, trace, options.timeoutMs));
  } finally {
    await callback.close();
  }
  trace.step(
    'callback',
    { at: 'enterprise_idp', redirectUri: callback.redirectUri, state: 'ok', iss: iss ?? null, issChecked: iss !== undefined, ms: since(start) },
    `authorization code from the IdP; state ok; ${iss !== undefined ? `iss=${iss} ok` : 'no iss (not advertised by the IdP)'}`,
  );
  start = performance.now();
  let idToken: string | undefined;
  try {
    ({ id_token: idToken } = await exchangeAuthorization(idp.issuer, {
      metadata: idp.metadata,
      clientInformation: client,
      authorizationCode: code,
      iss,
      codeVerifier,
      redirectUri: callback.redirectUri,
      fetchFn: trace.fetch,
    }));
  } catch (error) {
    throw tokenError("The code exchange at the enterprise IdP's token endpoint", error, idp.metadata.token_endpoint);
  }
  const summary = idToken ? peekJwt(idToken) : undefined;
  if (!idToken || !summary) {
    throw new CliError('no_id_token', `The enterprise IdP ${idp.issuer} answered the code exchange without an ID token.`, {
      hint: `The IdP must issue an OpenID Connect ID token to ${ent.idpClientId} for scope openid.`,
    });
  }
  // OIDC Core §3.1.3.7: from the token endpoint over TLS, so the signature may go unchecked — issuer, audience and nonce may not.
  const claims = decodeJwt(idToken);
  const wrong = [
    ...(summary.iss !== idp.issuer ? [`iss is ${JSON.stringify(summary.iss ?? null)}`] : []),
    ...(!summary.aud.includes(ent.idpClientId) ? [`aud does not include ${ent.idpClientId}`] : []),
    ...(claims['nonce'] !== nonce ? ['the nonce is not this sign-in’s'] : []),
  ];
  if (wrong.length) {
    throw new CliError('id_token_invalid', `The ID token from ${idp.issuer} is not for this sign-in: ${wrong.join('; ')}.`, {
      hint: 'Sign in again; if this repeats, the IdP (or something between you and it) is misbehaving.',
    });
  }
  idTokenStep(trace, `ID token from ${idp.metadata.token_endpoint} (nonce ok)`, summary, ent.idpClientId, start);
  return idToken;
}

/** Step 2: RFC 8693 token exchange at the IdP — the ID token for an ID-JAG for this authorization server and resource. */
async function exchangeForIdJag(
  options: FlowOptions,
  ent: EnterpriseOptions,
  idp: AuthServerResult,
  idToken: string,
  d: Discovery,
  scope: string | undefined,
  clientId: string,
) {
  const { trace } = options;
  const endpoint = idp.metadata.token_endpoint;
  const start = performance.now();
  let jag;
  try {
    jag = await requestJwtAuthorizationGrant({
      tokenEndpoint: endpoint,
      audience: d.as.issuer,
      resource: d.resource,
      idToken,
      clientId: ent.idpClientId,
      clientSecret: ent.idpClientSecret,
      scope,
      fetchFn: trace.fetch,
    });
  } catch (error) {
    if (isNetworkError(error)) throw unreachable('enterprise IdP token endpoint', endpoint, error);
    const reason = printable((error instanceof Error ? error.message : String(error)).replace(/^Token exchange failed:?\s*/, ''));
    trace.step(
      'token_exchange',
      { endpoint, audience: d.as.issuer, resource: d.resource, scope, error: reason, ms: since(start) },
      `the IdP refused to exchange the ID token for an ID-JAG: ${reason}`,
      false,
    );
    throw new CliError('token_exchange_refused', `The enterprise IdP ${idp.issuer} refused to exchange the ID token for an ID-JAG: ${reason}.`, {
      hint: `Check that ${ent.idpClientId} may ask ${idp.issuer} for ID-JAGs for ${d.as.issuer}${ent.idTokenFile ? ', and that the ID token is recent' : ''}; sign in again if it expired.`,
    });
  }
  const claims = peekJwt(jag.jwtAuthGrant);
  let jagClientId: unknown;
  try {
    jagClientId = decodeJwt(jag.jwtAuthGrant)['client_id'];
  } catch {
    jagClientId = undefined;
  }
  const problems = [
    ...(claims?.typ !== 'oauth-id-jag+jwt' ? [`its typ is ${JSON.stringify(claims?.typ ?? null)}, not "oauth-id-jag+jwt"`] : []),
    ...(typeof jagClientId === 'string' && jagClientId !== clientId ? [`it names client_id ${jagClientId}, not --client-id ${clientId}`] : []),
  ];
  trace.step(
    'token_exchange',
    {
      endpoint,
      grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subjectTokenType: ID_TOKEN_TYPE,
      requestedTokenType: ID_JAG_TYPE,
      audience: d.as.issuer,
      resource: d.resource,
      scope,
      issuer: claims?.iss,
      clientId: jagClientId,
      expiresIn: jag.expiresIn,
      ms: since(start),
    },
    `ID token → ID-JAG (RFC 8693) for audience ${d.as.issuer}, resource ${d.resource}${scope ? `, scope "${scope}"` : ''}` +
      `${typeof jagClientId === 'string' ? `, client_id ${jagClientId}` : ''}${claims ? `, ${expiry(claims).text}` : ''} (the ID-JAG is not shown)` +
      (problems.length ? `; ${problems.join('; ')}` : ''),
    problems.length === 0,
  );
  return jag.jwtAuthGrant;
}

/** Discovery done: sign in at the enterprise IdP (or take the ID token), exchange it for an ID-JAG, redeem that. */
export async function enterpriseGrant(options: FlowOptions, d: Discovery, scopeOverride: string | undefined): Promise<AssertionGrant> {
  const { trace, store } = options;
  const ent = options.enterprise!;
  const issuer = d.as.issuer;
  const metadata = d.as.metadata;
  requireJwtBearer(metadata, issuer, `${issuer} does not take ID-JAGs; log in without --enterprise-idp, or ask its operator to trust ${ent.idpIssuer}.`);
  if (!options.preRegistered) {
    throw new CliError('usage', '--enterprise-idp needs --client-id: the client at the authorization server that the IdP issues ID-JAGs for.', { exitCode: 2 });
  }
  const client = await machineClient({ store, issuer, preRegistered: options.preRegistered, trace });
  const { scope } = selectScope({
    override: scopeOverride ?? options.scope,
    challengeScope: d.challenge.scope,
    scopesSupported: d.prm?.metadata.scopes_supported,
    // no offline_access: the next token comes from the IdP again, which is the point
  });

  trace.step(
    'enterprise_idp',
    { issuer: ent.idpIssuer, clientId: ent.idpClientId, confidential: Boolean(ent.idpClientSecret), idToken: ent.idTokenFile ? 'file' : 'sign-in' },
    `${ent.idpIssuer}, client_id=${ent.idpClientId}${ent.idpClientSecret ? ' (with secret)' : ''}: ${ent.idTokenFile ? `ID token from ${ent.idTokenFile}` : 'signing in (authorization code + PKCE, scope openid)'}`,
  );
  const idp = await discoverAuthorizationServer(ent.idpIssuer, trace, { requirePkce: !ent.idTokenFile });
  const cacheKey = `${idp.issuer} ${ent.idpClientId}`;
  const cached = idTokens.get(cacheKey);
  const cachedExp = cached ? peekJwt(cached)?.exp : undefined;
  let idToken: string;
  if (cached && !ent.idTokenFile && (cachedExp === undefined || cachedExp * 1000 > Date.now() + 30_000)) {
    idToken = cached;
    trace.note(`using the ID token from this run's sign-in at ${idp.issuer}`);
  } else {
    idToken = ent.idTokenFile ? await idTokenFromFile(ent, idp, trace) : await signIn(options, ent, idp);
    if (!ent.idTokenFile) idTokens.set(cacheKey, idToken);
  }

  const jag = await exchangeForIdJag(options, ent, idp, idToken, d, scope, client.client_id);
  const clientAuth = await clientAuthentication(issuer, (await store.read(issuer)).client, trace, metadata);
  const dpop = await options.dpop.forTokenRequest(issuer, metadata.dpop_signing_alg_values_supported, d);
  const start = performance.now();
  const { tokens, authMethod } = await redeemJwtBearer({
    metadata,
    client,
    clientAuth,
    assertion: jag,
    scope,
    resource: d.resourceParameter,
    dpop,
    trace,
    what: 'ID-JAG',
    hints: {
      invalid_grant: `The authorization server did not accept the ID-JAG (expired, not for it, from an IdP it does not trust, or already used). Run login again to sign in anew; mcp-client does not retry.`,
      invalid_client:
        'Check --client-id and its secret (--client-secret or MCP_CLIENT_SECRET) or --client-key: the client that redeems an ID-JAG authenticates.',
      unauthorized_client: `Client ${client.client_id} may not redeem ID-JAGs of ${ent.idpIssuer} at ${issuer}: ask its operator.`,
      invalid_scope: 'The IdP did not grant that scope for this MCP server, or the server does not have it: ask for another (--scope).',
      invalid_target: `The authorization server does not issue tokens for ${d.resource} for this ID-JAG.`,
      default: 'See the error above; mcp-client does not retry, nor try another grant.',
    },
  });
  const summary = summarize(tokens, dpop);
  trace.step(
    'token',
    { grantType: JWT_BEARER_GRANT, assertion: 'id-jag', endpoint: metadata.token_endpoint, authMethod, ...summary, ms: since(start) },
    `jwt-bearer with the ID-JAG (${authMethod}): ${describe(summary)}`,
  );
  return { tokens, scope, entry: { enterprise_idp: ent.idpIssuer } };
}
