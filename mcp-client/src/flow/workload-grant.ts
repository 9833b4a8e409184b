/**
 * Workload identity federation (MCP SEP-1933): a workload — a pod, a CI job, a VM — gets its
 * MCP access token for the JWT its platform issued it (a Kubernetes service-account token such
 * as /var/run/secrets/kubernetes.io/serviceaccount/token or a projected one, a SPIFFE JWT-SVID,
 * a cloud identity token), redeemed with the JWT bearer grant (RFC 7523 §2.1):
 *
 *   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>&client_id=…&resource=…[&scope=…]
 *
 * `--workload-token-file <path>` names the file; it is read again for every token request,
 * since platforms rotate the token in place. The client is the pre-registered `--client-id`
 * (authentication `none` unless a secret or `--client-key` is given: the workload's JWT is
 * the credential). A refusal ends the command with the authorization server's words
 * (jwt-bearer.ts: no retry, no other grant). The file's path is stored with the token, so a
 * later run (token expired, or refused by the MCP server) reads the file again and redeems
 * once.
 */
import { CliError } from '../errors.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { selectScope } from './authorize.ts';
import { clientAuthentication } from './client-assertion.ts';
import type { Discovery } from './discovery.ts';
import { JWT_BEARER_GRANT, expiry, jwtStep, readJwtFile, redeemJwtBearer, requireJwtBearer } from './jwt-bearer.ts';
import type { AssertionGrant } from './jwt-bearer.ts';
import type { FlowOptions } from './login.ts';
import { machineClient } from './register.ts';
import type { PreRegistered } from './register.ts';
import { describe, summarize } from './tokens.ts';

const WHAT = 'workload token';

/** At start-up, for the flag just given: the file exists and holds a JWT (exit 2 otherwise). */
export async function checkWorkloadTokenFile(file: string): Promise<void> {
  await readJwtFile(file, `${WHAT} (a JWT)`, '--workload-token-file', true);
}

/** Reads the workload's JWT anew; the `workload_token` step shows its claims, never the token. */
async function readWorkloadToken(file: string, issuer: string, trace: Trace): Promise<string> {
  const start = performance.now();
  const { jwt, summary } = await readJwtFile(file, `${WHAT} (a JWT)`, '--workload-token-file', false);
  const forThisAs = summary.aud.some((aud) => aud.replace(/\/+$/, '') === issuer.replace(/\/+$/, ''));
  const problems = [
    ...(expiry(summary).expired ? ['the platform has not rotated it: the authorization server will refuse it'] : []),
    ...(summary.aud.length && !forThisAs ? [`its aud is not ${issuer}: the authorization server will likely refuse it`] : []),
  ];
  jwtStep(trace, 'workload_token', file, summary, problems, start, { file });
  return jwt;
}

/** The pre-registered client: the flags, else the one a previous run stored for this issuer. */
async function workloadClient(options: FlowOptions, issuer: string): Promise<PreRegistered> {
  if (options.preRegistered) return options.preRegistered;
  const stored = (await options.store.read(issuer)).client;
  if (stored?.source === 'pre-registered') {
    return {
      clientId: stored.client_id,
      ...(stored.client_secret ? { clientSecret: stored.client_secret } : {}),
      ...(stored.client_key_file ? { clientKeyFile: stored.client_key_file } : {}),
      ...(stored.client_key_alg ? { clientKeyAlg: stored.client_key_alg } : {}),
    };
  }
  throw new CliError('usage', '--workload-token-file needs --client-id: the client the authorization server configured for this workload.', {
    hint: `Pass --client-id (and --issuer ${issuer}).`,
    exitCode: 2,
  });
}

/** Discovery done: redeem the workload's JWT at the authorization server, once. */
export async function workloadGrant(options: FlowOptions, d: Discovery, scopeOverride: string | undefined): Promise<AssertionGrant> {
  const { trace, store } = options;
  const file = options.workloadTokenFile!;
  const issuer = d.as.issuer;
  const metadata = d.as.metadata;
  requireJwtBearer(metadata, issuer, 'Ask the authorization server operator to trust your workload platform as an issuer (and configure a client for it).');
  const client = await machineClient({ store, issuer, preRegistered: await workloadClient(options, issuer), trace });
  const clientAuth = await clientAuthentication(issuer, (await store.read(issuer)).client, trace, metadata);
  const { scope } = selectScope({
    override: scopeOverride ?? options.scope,
    challengeScope: d.challenge.scope,
    scopesSupported: d.prm?.metadata.scopes_supported,
    // no offline_access: a workload presents its JWT again instead of refreshing
  });
  const assertion = await readWorkloadToken(file, issuer, trace);
  const dpop = await options.dpop.forTokenRequest(issuer, metadata.dpop_signing_alg_values_supported, d);
  const start = performance.now();
  const { tokens, authMethod } = await redeemJwtBearer({
    metadata,
    client,
    clientAuth,
    assertion,
    scope,
    resource: d.resourceParameter,
    dpop,
    trace,
    what: WHAT,
    hints: {
      invalid_grant: `The authorization server did not accept the token in ${file} (expired, another audience, an issuer or subject it does not trust, or already used). Check what the platform issues it for; mcp-client does not retry.`,
      invalid_scope: 'This workload may not have that scope: ask for one it is allowed (--scope), or ask the authorization server operator.',
      unauthorized_client: `Client ${client.client_id} may not redeem tokens of this workload's issuer: check --client-id, or ask the authorization server operator.`,
      invalid_client: 'Check --client-id, and the secret or --client-key if the client has one.',
      invalid_target: `The authorization server does not issue this workload tokens for ${d.resource}.`,
      default: 'See the error above; mcp-client does not retry, nor try another grant.',
    },
  });
  const summary = summarize(tokens, dpop);
  trace.step(
    'token',
    { grantType: JWT_BEARER_GRANT, assertion: 'workload', endpoint: metadata.token_endpoint, authMethod, ...summary, ms: since(start) },
    `jwt-bearer with the workload token (${authMethod}): ${describe(summary)}`,
  );
  return { tokens, scope, entry: { workload_token_file: file } };
}
