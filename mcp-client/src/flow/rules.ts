/**
 * The rules a server can break, each with the text that states it and what mcp-client does
 * when it is broken. Discovery and `doctor` name deviations by these ids; the README's
 * interoperability table is this list.
 *
 * verdict:
 *   refused    unsafe or impossible to work around: the flow stops (login fails);
 *   tolerated  required by an RFC or the MCP spec, but harmless to this flow: mcp-client warns
 *              in the trace and goes on (stricter clients, e.g. the MCP SDKs, may refuse);
 *   advice     a recommendation (SHOULD, RECOMMENDED) or an interoperability hazard; nothing
 *              changes for mcp-client, so only `doctor` shows it.
 */

export type Verdict = 'refused' | 'tolerated' | 'advice';

export interface Rule {
  verdict: Verdict;
  /** The rule, in one sentence. */
  rule: string;
  /** Where it is written. */
  reference: string;
  /** What mcp-client does about it. */
  effect: string;
}

const MCP = 'https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization';
/** The revision whose discovery mcp-client falls back to when there is no protected resource metadata. */
export const MCP_2025_03_26 = 'https://modelcontextprotocol.io/specification/2025-03-26/basic/authorization';
const RFC = (n: number, section: string) => `https://www.rfc-editor.org/rfc/rfc${n}#section-${section}`;

export const RULES = {
  // --- the 401 challenge ---------------------------------------------------------------
  'challenge.status': {
    verdict: 'refused',
    rule: 'A protected MCP endpoint answers a request without a token with 401 Unauthorized.',
    reference: `MCP authorization, "Authorization Flow Steps" (${MCP}#authorization-flow-steps)`,
    effect: 'Nothing to log in to: mcp-client stops.',
  },
  'challenge.www_authenticate': {
    verdict: 'tolerated',
    rule: 'A 401 response carries a WWW-Authenticate header (RFC 7235 §3.1), here a Bearer challenge (RFC 6750 §3).',
    reference: `RFC 7235 §3.1 (${RFC(7235, '3.1')}); MCP authorization, "Protected Resource Metadata Discovery Requirements" (${MCP}#protected-resource-metadata-discovery-requirements)`,
    effect: 'mcp-client looks for the protected resource metadata at the well-known URLs instead.',
  },
  'challenge.resource_metadata': {
    verdict: 'advice',
    rule: 'The Bearer challenge names the protected resource metadata (resource_metadata parameter); without it, clients must probe the well-known URLs.',
    reference: `RFC 9728 §5.1 (${RFC(9728, '5.1')}); MCP authorization, "Protected Resource Metadata Discovery Requirements" (${MCP}#protected-resource-metadata-discovery-requirements)`,
    effect: 'mcp-client probes /.well-known/oauth-protected-resource[/<path>]; clients that only follow the header fail.',
  },
  'challenge.scope': {
    verdict: 'advice',
    rule: 'The challenge SHOULD name the scopes the request needs (scope parameter).',
    reference: `MCP authorization, "Scope Selection Strategy" (${MCP}#scope-selection-strategy)`,
    effect: 'mcp-client asks for the scopes_supported of the protected resource metadata instead.',
  },

  // --- protected resource metadata (RFC 9728) --------------------------------------------
  'prm.found': {
    verdict: 'refused',
    rule: 'The MCP server publishes OAuth 2.0 Protected Resource Metadata, at the URL its challenge names or at the well-known URL.',
    reference: `RFC 9728 §3 (${RFC(9728, '3')}); MCP authorization, "Authorization Server Discovery" (${MCP}#authorization-server-discovery)`,
    effect: 'Without it there is no authorization server to use: mcp-client stops.',
  },
  'prm.resource': {
    verdict: 'refused',
    rule: "The metadata's resource is the MCP server's URL (or a prefix of it); a client must not use metadata for another resource.",
    reference: `RFC 9728 §3.3 (${RFC(9728, '3.3')}); MCP authorization, "Canonical Server URI" (${MCP}#canonical-server-uri)`,
    effect: 'Unsafe (tokens could be minted for another resource): mcp-client stops.',
  },
  'prm.authorization_servers': {
    verdict: 'refused',
    rule: 'The protected resource metadata lists at least one authorization server in authorization_servers.',
    reference: `MCP authorization, "Authorization Server Location" (${MCP}#authorization-server-location)`,
    effect: 'No authorization server to log in at: mcp-client stops.',
  },
  'prm.scopes_supported': {
    verdict: 'advice',
    rule: 'The protected resource metadata SHOULD list scopes_supported, the scopes a client may ask for when the challenge names none.',
    reference: `RFC 9728 §2 (${RFC(9728, '2')}); MCP authorization, "Scope Selection Strategy" (${MCP}#scope-selection-strategy)`,
    effect: 'With neither a challenged scope nor scopes_supported, mcp-client asks for no scope.',
  },

  // --- 2025-03-26 discovery, the fallback without protected resource metadata ------------
  'legacy.no_resource_metadata': {
    verdict: 'tolerated',
    rule: "The MCP server publishes OAuth 2.0 Protected Resource Metadata naming its authorization server (since revision 2025-06-18; revision 2025-03-26 had none: the authorization server was the MCP server's origin).",
    reference: `RFC 9728 §3 (${RFC(9728, '3')}); MCP authorization, "Authorization Server Discovery" (${MCP}#authorization-server-discovery); MCP 2025-03-26, "Authorization Base URL" (${MCP_2025_03_26}#authorization-base-url)`,
    effect:
      "mcp-client falls back to 2025-03-26 discovery: the MCP server's origin is taken as the authorization server (its RFC 8414 metadata, else /authorize, /token and /register there); clients that follow only the current revision cannot log in.",
  },
  'legacy.default_endpoints': {
    verdict: 'tolerated',
    rule: 'The authorization server publishes RFC 8414 metadata; a 2025-03-26 server without it serves /authorize, /token and /register at the authorization base URL.',
    reference: `RFC 8414 §3 (${RFC(8414, '3')}); MCP 2025-03-26, "Fallbacks for Servers without Metadata Discovery" (${MCP_2025_03_26}#fallbacks-for-servers-without-metadata-discovery)`,
    effect:
      'mcp-client uses those endpoints with PKCE S256 and state, sends no resource parameter and cannot revoke at logout; nothing says the server checks PKCE or sends iss.',
  },
  'legacy.pkce_unadvertised': {
    verdict: 'tolerated',
    rule: 'PKCE is REQUIRED for all clients, and the authorization server advertises S256 in code_challenge_methods_supported.',
    reference: `MCP 2025-03-26, "Implementation Requirements" (${MCP_2025_03_26}#implementation-requirements); MCP authorization, "Authorization Code Protection" (${MCP}#authorization-code-protection)`,
    effect:
      'Under 2025-03-26 discovery mcp-client sends S256 anyway (never plain): a server that ignores PKCE leaves an intercepted authorization code usable.',
  },
  'legacy.resource_parameter': {
    verdict: 'advice',
    rule: 'Clients send the resource parameter (RFC 8707), so tokens are bound to the MCP server they are for.',
    reference: `RFC 8707 §2 (${RFC(8707, '2')}); MCP authorization, "Resource Parameter Implementation" (${MCP}#resource-parameter-implementation)`,
    effect:
      'Without protected resource metadata mcp-client sends it only where the AS metadata says resource_indicators_supported: true; otherwise the authorization server alone decides what the token is good for.',
  },

  // --- authorization server metadata (RFC 8414 / OIDC discovery) -------------------------
  'as.found': {
    verdict: 'refused',
    rule: "The authorization server publishes RFC 8414 or OpenID Connect discovery metadata at the well-known URLs, tried in the spec's order.",
    reference: `MCP authorization, "Authorization Server Metadata Discovery" (${MCP}#authorization-server-metadata-discovery)`,
    effect:
      'An authorization server named by protected resource metadata gets no guessed endpoints: mcp-client stops (only 2025-03-26 discovery has default ones).',
  },
  'as.json': {
    verdict: 'refused',
    rule: 'The metadata document is a JSON object.',
    reference: `RFC 8414 §3.2 (${RFC(8414, '3.2')})`,
    effect: 'Nothing to read: mcp-client stops.',
  },
  'as.issuer': {
    verdict: 'refused',
    rule: "The metadata's issuer is identical to the authorization server URL it was looked up for.",
    reference: `RFC 8414 §3.3 (${RFC(8414, '3.3')})`,
    effect: 'Unsafe (mix-up attacks): mcp-client stops.',
  },
  'as.authorization_endpoint': {
    verdict: 'refused',
    rule: 'authorization_endpoint is present and an http(s) URL (REQUIRED for the authorization code grant).',
    reference: `RFC 8414 §2 (${RFC(8414, '2')})`,
    effect: 'No way to send the user to the authorization server: mcp-client stops.',
  },
  'as.token_endpoint': {
    verdict: 'refused',
    rule: 'token_endpoint is present and an http(s) URL.',
    reference: `RFC 8414 §2 (${RFC(8414, '2')})`,
    effect: 'No way to get a token: mcp-client stops.',
  },
  'as.pkce_s256': {
    verdict: 'refused',
    rule: 'code_challenge_methods_supported is present and lists S256; clients MUST refuse to proceed otherwise.',
    reference: `MCP authorization, "Authorization Code Protection" (${MCP}#authorization-code-protection); RFC 7636 §4.2 (${RFC(7636, '4.2')})`,
    effect: 'Unsafe (authorization codes could be intercepted): mcp-client stops.',
  },
  'as.response_types_supported': {
    verdict: 'tolerated',
    rule: 'response_types_supported is REQUIRED in authorization server metadata.',
    reference: `RFC 8414 §2 (${RFC(8414, '2')})`,
    effect: 'mcp-client assumes ["code"], the only response type it uses, and goes on; the MCP TypeScript SDK\'s clients (v1 and v2) refuse such a server.',
  },
  'as.response_type_code': {
    verdict: 'refused',
    rule: 'An authorization server for MCP clients supports the "code" response type.',
    reference: `RFC 8414 §2 (${RFC(8414, '2')}); OAuth 2.1 §4.1`,
    effect: 'The server says it cannot do the authorization code flow: mcp-client stops.',
  },
  'as.oidc_required_members': {
    verdict: 'tolerated',
    rule: 'An OpenID Connect discovery document has jwks_uri, subject_types_supported and id_token_signing_alg_values_supported (REQUIRED).',
    reference: 'OpenID Connect Discovery 1.0 §3 (https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)',
    effect: "mcp-client uses no ID token, so none of them matters to it and it goes on; the MCP TypeScript SDK's clients refuse such a server.",
  },
  'as.grant_types_supported': {
    verdict: 'tolerated',
    rule: 'When grant_types_supported is present it lists the grants the client uses (authorization_code; client_credentials for machine clients).',
    reference: `RFC 8414 §2 (${RFC(8414, '2')})`,
    effect: 'mcp-client tries the grant anyway; the token endpoint has the last word.',
  },
  'as.member_type': {
    verdict: 'tolerated',
    rule: 'Each metadata member has the type RFC 8414 gives it (URLs as strings, lists as arrays of strings, flags as booleans).',
    reference: `RFC 8414 §2 (${RFC(8414, '2')})`,
    effect: 'mcp-client ignores the malformed member and goes on without it.',
  },
  'as.https': {
    verdict: 'tolerated',
    rule: 'Authorization server endpoints are served over HTTPS (plain http only on loopback).',
    reference: `MCP authorization, "Communication Security" (${MCP}#communication-security); OAuth 2.1 §1.5`,
    effect: 'mcp-client warns and goes on (development deployments in containers do this); credentials cross the network in clear.',
  },
  'as.iss_parameter': {
    verdict: 'advice',
    rule: 'The authorization server sends iss in authorization responses and says so (authorization_response_iss_parameter_supported: true).',
    reference: `RFC 9207 §2-3 (${RFC(9207, '2')}); MCP authorization, "Authorization Response Validation" (${MCP}#authorization-response-validation)`,
    effect: 'mcp-client checks iss whenever it is sent; without it, mix-up attacks are only detected by the state check.',
  },
  'as.scopes_supported': {
    verdict: 'advice',
    rule: 'scopes_supported is RECOMMENDED in authorization server metadata.',
    reference: `RFC 8414 §2 (${RFC(8414, '2')})`,
    effect: 'mcp-client cannot tell whether offline_access is offered, so it does not ask for it.',
  },
  'as.registration': {
    verdict: 'advice',
    rule: 'An authorization server for MCP clients offers a way to register without an operator: Client ID Metadata Documents or Dynamic Client Registration.',
    reference: `MCP authorization, "Client Registration Approaches" (${MCP}#client-registration-approaches)`,
    effect: 'Every user needs a pre-registered --client-id.',
  },

  // --- registration (doctor registers a client unless --no-register) ---------------------
  'registration.accepted': {
    verdict: 'refused',
    rule: 'The registration endpoint registers a public native client with a loopback redirect URI (application_type native, token_endpoint_auth_method none).',
    reference: `RFC 7591 §3 (${RFC(7591, '3')}); RFC 8252 §7.3 (${RFC(8252, '7.3')}); MCP authorization, "Dynamic Client Registration" (${MCP}#dynamic-client-registration)`,
    effect: 'mcp-client cannot register: every user needs a pre-registered --client-id.',
  },
  'registration.redirect_uris': {
    verdict: 'tolerated',
    rule: 'The registration response echoes the redirect URIs that were registered.',
    reference: `RFC 7591 §3.2.1 (${RFC(7591, '3.2.1')})`,
    effect: 'mcp-client listens on a redirect URI the response lists.',
  },
  'registration.management': {
    verdict: 'advice',
    rule: 'The registration response carries registration_client_uri and registration_access_token, so a client can update its redirect URIs (RFC 7592).',
    reference: `RFC 7592 §3 (${RFC(7592, '3')})`,
    effect:
      'When the registered port is taken, mcp-client registers a new client instead of updating this one (the old registration stays behind at the server).',
  },
  'authorization.registered_redirect_uri': {
    verdict: 'refused',
    rule: 'The authorization endpoint accepts a request with the redirect URI just registered, PKCE S256 and the resource parameter.',
    reference: `RFC 6749 §3.1.2 (${RFC(6749, '3.1.2')}); RFC 8707 §2 (${RFC(8707, '2')}); MCP authorization, "Resource Parameter Implementation" (${MCP}#resource-parameter-implementation)`,
    effect: 'No login is possible with this registration.',
  },
  'authorization.loopback_any_port': {
    verdict: 'advice',
    rule: 'For loopback IP redirect URIs the authorization server MUST allow any port at the time of the request.',
    reference: `RFC 8252 §7.3 (${RFC(8252, '7.3')})`,
    effect:
      'mcp-client registers the exact port it listens on, so it still logs in; clients that register one URI and listen on a fresh port each time do not.',
  },
} as const satisfies Record<string, Rule>;

export type RuleId = keyof typeof RULES;

/** One observed deviation from a rule. */
export interface Deviation extends Rule {
  id: RuleId;
  /** What was seen, concretely. */
  detail: string;
}

export function deviation(id: RuleId, detail: string): Deviation {
  return { id, ...RULES[id], detail };
}
