/**
 * The JWT bearer grant (RFC 7523 §2.1) at the MCP server's authorization server, for the two
 * assertions mcp-client presents there: a workload's platform-issued JWT (workload-grant.ts,
 * SEP-1933) and an ID-JAG from an enterprise IdP (enterprise.ts, SEP-990).
 *
 * One request per assertion. A refusal is shown with the authorization server's own error and
 * description and ends the command: no second attempt with the same assertion (it would be
 * refused again, or count as a replay), and no other grant instead — the user chose this way
 * of getting a token, and a browser login or client_credentials in its place would hide why
 * it failed. (A DPoP `use_dpop_nonce` answer is not a refusal: RFC 9449 §8 asks for the same
 * request again with the server's nonce, as for every other grant.)
 *
 * Also: reading a JWT from a file (the workload token, an ID token) and what may be shown of
 * it — its issuer, subject, audience and expiry, never the token.
 */
import { readFile } from 'node:fs/promises';
import type { AddClientAuthentication, AuthorizationServerMetadata, DpopSession, OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CliError } from '../errors.ts';
import type { ResourceEntry } from '../store.ts';
import { since } from '../trace.ts';
import type { Trace } from '../trace.ts';
import { printable } from './authorize.ts';
import type { FlowOptions } from './login.ts';
import { postTokenRequest, tokensFrom } from './tokens.ts';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** What a jwt-bearer login hands back to login.ts to store: the tokens, the scope asked for, and how to get the next ones. */
export interface AssertionGrant {
  tokens: OAuthTokens;
  scope: string | undefined;
  entry: Pick<ResourceEntry, 'workload_token_file' | 'enterprise_idp'>;
}

/** The claims of a JWT that may be displayed. */
export interface JwtSummary {
  iss: string | undefined;
  sub: string | undefined;
  aud: string[];
  /** Epoch seconds. */
  exp: number | undefined;
  typ: string | undefined;
}

/** Decodes (does not verify) a compact JWS; undefined when it is not one. */
export function peekJwt(jwt: string): JwtSummary | undefined {
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(jwt)) return undefined;
  try {
    const claims = decodeJwt(jwt);
    const header = decodeProtectedHeader(jwt);
    return {
      iss: typeof claims.iss === 'string' ? claims.iss : undefined,
      sub: typeof claims.sub === 'string' ? claims.sub : undefined,
      aud: typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a) => typeof a === 'string') : [],
      exp: typeof claims.exp === 'number' ? claims.exp : undefined,
      typ: typeof header.typ === 'string' ? header.typ : undefined,
    };
  } catch {
    return undefined;
  }
}

/** "expires in 3600 s" / "expired 60 s ago" / "no exp", for the trace. */
export function expiry(summary: JwtSummary, now = Date.now()): { text: string; expired: boolean } {
  if (summary.exp === undefined) return { text: 'no exp', expired: false };
  const left = summary.exp - Math.floor(now / 1000);
  return left > 0 ? { text: `expires in ${left} s`, expired: false } : { text: `expired ${-left} s ago`, expired: true };
}

/** The step showing what a JWT says — issuer, subject, audience, expiry — and what looks wrong with it; never the JWT. */
export function jwtStep(
  trace: Trace,
  step: string,
  source: string,
  summary: JwtSummary,
  problems: string[],
  start: number,
  data: Record<string, unknown>,
): void {
  const { text, expired } = expiry(summary);
  trace.step(
    step,
    { ...data, iss: summary.iss, sub: summary.sub, aud: summary.aud, exp: summary.exp, expired, ms: since(start) },
    `${source}: iss=${summary.iss ?? '?'} sub=${summary.sub ?? '?'} aud=${summary.aud.join(' ') || '?'}, ${text} (the token itself is not shown)` +
      (problems.length ? `; ${problems.join('; ')}` : ''),
    problems.length === 0,
  );
}

/**
 * Reads a JWT from `file` (the whole file, surrounding whitespace dropped). A CliError when the
 * file is missing, unreadable or holds no JWT — exit 2 with `usage` (the flag was just given).
 */
export async function readJwtFile(file: string, what: string, flag: string, usage: boolean): Promise<{ jwt: string; summary: JwtSummary }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      'usage',
      `${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : `cannot be read (${code ?? String(error)})`}.`,
      { hint: `Pass the file that holds the ${what}.`, exitCode: usage ? 2 : 1 },
    );
  }
  const jwt = text.trim();
  const summary = peekJwt(jwt);
  if (!summary) {
    throw new CliError('usage', `${flag} ${file}: the file does not hold a JWT (three base64url parts separated by dots).`, {
      hint: `The file must contain the ${what} and nothing else.`,
      exitCode: usage ? 2 : 1,
    });
  }
  return { jwt, summary };
}

/** Refuses before any request when the AS says it has no jwt-bearer grant. */
export function requireJwtBearer(metadata: AuthorizationServerMetadata, issuer: string, hint: string): void {
  const grants = metadata.grant_types_supported;
  if (grants && !grants.includes(JWT_BEARER_GRANT)) {
    throw new CliError(
      'grant_unsupported',
      `The authorization server ${issuer} does not offer the JWT bearer grant (grant_types_supported: ${JSON.stringify(grants)}).`,
      { hint },
    );
  }
}

/**
 * One jwt-bearer token request. Client authentication: `clientAuth` (private_key_jwt) if
 * given, else the client's secret by the method the AS supports, else just client_id.
 */
export async function redeemJwtBearer(options: {
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  clientAuth: AddClientAuthentication | undefined;
  assertion: string;
  scope: string | undefined;
  /** RFC 8707; undefined only where the AS is not known to take it (2025-03-26 discovery). */
  resource: string | undefined;
  dpop: DpopSession | undefined;
  trace: Trace;
  /** "workload token", "ID-JAG": for messages. */
  what: string;
  /** What to do about each OAuth error code (and `default`). */
  hints: Record<string, string>;
}): Promise<{ tokens: OAuthTokens; authMethod: string }> {
  const { metadata, trace } = options;
  const endpoint = metadata.token_endpoint;
  const params = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: options.assertion });
  if (options.scope) params.set('scope', options.scope);
  if (options.resource) params.set('resource', options.resource);
  const { response, body, authMethod } = await postTokenRequest({ ...options, params });
  if (!response.ok) {
    const code = typeof body['error'] === 'string' ? body['error'] : `HTTP ${response.status}`;
    const description = typeof body['error_description'] === 'string' ? body['error_description'] : undefined;
    trace.step(
      'token',
      { grantType: JWT_BEARER_GRANT, endpoint, authMethod, status: response.status, error: code, errorDescription: description, retried: false },
      `the ${options.what} was refused: ${printable(code, 80)}${description ? ` — ${printable(description)}` : ''} (not retried; no other grant tried)`,
      false,
    );
    throw new CliError(
      /^[a-z_]{1,64}$/.test(code) ? code : 'token_error',
      `The ${options.what} was refused by the authorization server: ${printable(code, 80)}${description ? ` — ${printable(description)}` : ''}.`,
      { hint: options.hints[code] ?? options.hints['default'] ?? 'See the error above.' },
    );
  }
  const tokens = tokensFrom(body, endpoint, response.status);
  return { tokens, authMethod };
}

/**
 * The options for a new token in place of a stored jwt-bearer one (expired, or refused by the
 * MCP server): this run's, when its flags name an assertion; else the workload token file
 * stored with the token, read again. An ID-JAG needs a new sign-in at the enterprise IdP, which
 * only the flags can start: a browser login at the authorization server would be another grant.
 */
export function renewalOptions(options: FlowOptions, entry: ResourceEntry | undefined): FlowOptions {
  if (entry?.grant !== 'jwt-bearer' || options.workloadTokenFile || options.enterprise) return options;
  if (entry.workload_token_file) return { ...options, workloadTokenFile: entry.workload_token_file };
  throw new CliError(
    'login_required',
    `The token for ${entry.resource} came from an ID-JAG of ${entry.enterprise_idp ?? 'an enterprise IdP'} and can no longer be used; a new one needs a new sign-in there.`,
    {
      hint: `Run \`mcp-client login ${entry.server_url} --enterprise-idp ${entry.enterprise_idp ?? '<issuer>'} --idp-client-id <id> --client-id <id>\` again.`,
    },
  );
}
