/**
 * Authorization server metadata (RFC 8414, OpenID Connect discovery), read member by member.
 *
 * The SDK validates the whole document against one schema and refuses it when any REQUIRED
 * member is missing, even one this flow never uses (response_types_supported, or an OIDC
 * document's jwks_uri). Here each member is judged by what it changes for the flow (rules.ts):
 * what is unsafe or unusable is refused, what is harmless is noted as a deviation and
 * replaced by the value the flow would assume anyway, and malformed optional members are
 * dropped.
 */
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/client';
import { deviation } from './rules.ts';
import type { Deviation } from './rules.ts';

/**
 * The SDK's metadata type, plus RFC 8414 members it does not declare. Every member of the
 * document that passed the checks is kept.
 */
export type AsMetadata = AuthorizationServerMetadata & {
  revocation_endpoint?: string;
  revocation_endpoint_auth_methods_supported?: string[];
  client_id_metadata_document_supported?: boolean;
  /** Not defined by RFC 8707, but published by servers that take the resource parameter. */
  resource_indicators_supported?: boolean;
  [member: string]: unknown;
};

export type DocumentKind = 'oauth' | 'oidc';

/** MCP authorization, "Authorization Server Metadata Discovery": the URLs, in order. */
export function discoveryUrls(issuer: string): { url: string; kind: DocumentKind }[] {
  const url = new URL(issuer);
  if (url.pathname === '/' || url.pathname === '') {
    return [
      { url: new URL('/.well-known/oauth-authorization-server', url.origin).href, kind: 'oauth' },
      { url: new URL('/.well-known/openid-configuration', url.origin).href, kind: 'oidc' },
    ];
  }
  const path = url.pathname.replace(/\/$/, '');
  return [
    { url: new URL(`/.well-known/oauth-authorization-server${path}`, url.origin).href, kind: 'oauth' },
    { url: new URL(`/.well-known/openid-configuration${path}`, url.origin).href, kind: 'oidc' },
    { url: new URL(`${path}/.well-known/openid-configuration`, url.origin).href, kind: 'oidc' },
  ];
}

/** RFC 8414 §3.3 compares issuers as strings; one trailing slash on the looked-up URL is forgiven, as the SDK does. */
export function issuerMatches(published: string, expected: string): boolean {
  return published === expected || (expected.endsWith('/') && published === expected.slice(0, -1));
}

const URL_MEMBERS = [
  'registration_endpoint',
  'revocation_endpoint',
  'introspection_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'service_documentation',
  'end_session_endpoint',
];
const LIST_MEMBERS = [
  'scopes_supported',
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'code_challenge_methods_supported',
  'revocation_endpoint_auth_methods_supported',
  'introspection_endpoint_auth_methods_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'dpop_signing_alg_values_supported',
];
const FLAG_MEMBERS = ['authorization_response_iss_parameter_supported', 'client_id_metadata_document_supported', 'resource_indicators_supported'];
const OIDC_REQUIRED = ['jwks_uri', 'subject_types_supported', 'id_token_signing_alg_values_supported'];

function httpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  const url = URL.parse(value);
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? url : undefined;
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

export interface AssessOptions {
  /** The authorization server URL the document was looked up for. */
  expectedIssuer: string;
  kind: DocumentKind;
  /** Where the document was found (for the details). */
  url: string;
  /** A user login (authorization code + PKCE); false for client_credentials. */
  userLogin: boolean;
  /**
   * 2025-03-26 discovery: an AS that advertises no PKCE methods gets S256 anyway, with a
   * warning (legacy.pkce_unadvertised); one that lists methods without S256 is still refused.
   */
  assumePkce?: boolean;
}

export interface Assessment {
  /** The document with malformed members dropped and assumed defaults filled in; usable only without a refused deviation. */
  metadata: AsMetadata;
  deviations: Deviation[];
}

/** Judges a metadata document member by member (see rules.ts for each verdict). */
export function assessAsMetadata(raw: unknown, options: AssessOptions): Assessment {
  const deviations: Deviation[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { metadata: {} as AsMetadata, deviations: [deviation('as.json', `${options.url} is not a JSON object.`)] };
  }
  const doc: Record<string, unknown> = { ...(raw as Record<string, unknown>) };

  if (typeof doc['issuer'] !== 'string') {
    deviations.push(deviation('as.issuer', `The metadata at ${options.url} has no issuer.`));
  } else if (!issuerMatches(doc['issuer'], options.expectedIssuer)) {
    deviations.push(
      deviation(
        'as.issuer',
        `The metadata at ${options.url} names issuer ${JSON.stringify(doc['issuer'])}, but it was looked up for ${JSON.stringify(options.expectedIssuer)}.`,
      ),
    );
  }

  if (!httpUrl(doc['authorization_endpoint'])) {
    const seen =
      doc['authorization_endpoint'] === undefined
        ? 'has no authorization_endpoint'
        : `has authorization_endpoint ${JSON.stringify(doc['authorization_endpoint'])}, not an http(s) URL`;
    if (options.userLogin) deviations.push(deviation('as.authorization_endpoint', `The metadata ${seen}.`));
    delete doc['authorization_endpoint'];
  }
  if (!httpUrl(doc['token_endpoint'])) {
    const seen =
      doc['token_endpoint'] === undefined ? 'has no token_endpoint' : `has token_endpoint ${JSON.stringify(doc['token_endpoint'])}, not an http(s) URL`;
    deviations.push(deviation('as.token_endpoint', `The metadata ${seen}.`));
  }

  // Malformed optional members are dropped, each noted once.
  const malformed: string[] = [];
  for (const member of URL_MEMBERS) {
    if (doc[member] !== undefined && !httpUrl(doc[member])) malformed.push(member);
  }
  for (const member of LIST_MEMBERS) {
    const value = doc[member];
    if (value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) malformed.push(member);
  }
  for (const member of FLAG_MEMBERS) {
    if (doc[member] !== undefined && typeof doc[member] !== 'boolean') malformed.push(member);
  }
  for (const member of malformed) {
    deviations.push(deviation('as.member_type', `${member} is ${JSON.stringify(doc[member]).slice(0, 80)}: ignored.`));
    delete doc[member];
  }

  const responseTypes = doc['response_types_supported'] as string[] | undefined;
  if (responseTypes === undefined) {
    deviations.push(deviation('as.response_types_supported', `The metadata at ${options.url} has no response_types_supported.`));
    doc['response_types_supported'] = ['code'];
  } else if (options.userLogin && !responseTypes.includes('code')) {
    deviations.push(deviation('as.response_type_code', `response_types_supported is ${JSON.stringify(responseTypes)}, without "code".`));
  }

  const methods = doc['code_challenge_methods_supported'] as string[] | undefined;
  if (options.userLogin && methods === undefined && options.assumePkce) {
    deviations.push(deviation('legacy.pkce_unadvertised', 'code_challenge_methods_supported is absent.'));
  } else if (options.userLogin && !methods?.includes('S256')) {
    deviations.push(deviation('as.pkce_s256', `code_challenge_methods_supported is ${methods ? JSON.stringify(methods) : 'absent'}.`));
  }

  const grants = doc['grant_types_supported'] as string[] | undefined;
  if (options.userLogin && grants && !grants.includes('authorization_code')) {
    deviations.push(deviation('as.grant_types_supported', `grant_types_supported is ${JSON.stringify(grants)}, without "authorization_code".`));
  }

  if (options.kind === 'oidc') {
    const missing = OIDC_REQUIRED.filter((member) => doc[member] === undefined);
    if (missing.length) deviations.push(deviation('as.oidc_required_members', `The OpenID Connect discovery document has no ${missing.join(', ')}.`));
  }

  const plain = ['issuer', 'authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint'].filter((member) => {
    const url = httpUrl(doc[member]);
    return url?.protocol === 'http:' && !isLoopbackHost(url.hostname);
  });
  if (plain.length)
    deviations.push(deviation('as.https', `${plain.map((m) => `${m} ${String(doc[m])}`).join(', ')} ${plain.length === 1 ? 'is' : 'are'} plain http.`));

  if (doc['authorization_response_iss_parameter_supported'] !== true) {
    deviations.push(
      deviation(
        'as.iss_parameter',
        `authorization_response_iss_parameter_supported is ${doc['authorization_response_iss_parameter_supported'] === false ? 'false' : 'absent'}.`,
      ),
    );
  }
  if (doc['scopes_supported'] === undefined) deviations.push(deviation('as.scopes_supported', 'The metadata has no scopes_supported.'));
  if (doc['registration_endpoint'] === undefined && doc['client_id_metadata_document_supported'] !== true) {
    deviations.push(deviation('as.registration', 'Neither registration_endpoint nor client_id_metadata_document_supported: true.'));
  }

  return { metadata: doc as AsMetadata, deviations };
}
