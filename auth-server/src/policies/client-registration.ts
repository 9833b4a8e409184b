import { errors } from 'oidc-provider';
import { JWT_BEARER } from '../jwt-bearer/grant-type.ts';

/**
 * What a client may register depends on who vouches for it, not on what it asks for.
 * Grant types:
 *
 * - `dynamic` (RFC 7591 registration) and `metadata-document` (Client ID Metadata Document)
 *   clients describe themselves; anyone can create one. They get the grants where a user
 *   signs in and consents: authorization_code and refresh_token.
 * - `configured` clients (CLIENTS_FILE) are the operator's. They may also hold grants with
 *   no user in the loop (client_credentials), but only when they authenticate — a secret or
 *   private_key_jwt: RFC 6749 §4.4 limits that grant to confidential clients. registry.ts
 *   refuses the rest at start-up.
 */

export type ClientOrigin = 'configured' | 'metadata-document' | 'dynamic';

const USER_GRANTS = new Set(['authorization_code', 'refresh_token']);
/**
 * Grants a configured public client may hold: the user's, and the JWT bearer grant
 * (jwt-bearer/), where a workload's platform-issued assertion is its credential (SEP-1933).
 * registry.ts still requires clients that redeem users' ID-JAGs to authenticate.
 */
const PUBLIC_CONFIGURED_GRANTS = new Set([...USER_GRANTS, JWT_BEARER]);

export function clientOrigin(clientId: unknown, configuredIds: ReadonlySet<string>): ClientOrigin {
  if (typeof clientId === 'string' && configuredIds.has(clientId)) return 'configured';
  // oidc-provider only treats https URLs as metadata document ids; DCR ids are random strings.
  if (typeof clientId === 'string' && clientId.startsWith('https://')) return 'metadata-document';
  return 'dynamic';
}

/** The grant types of `metadata` that its origin may not hold. */
export function forbiddenGrantTypes(origin: ClientOrigin, metadata: { grant_types?: unknown; token_endpoint_auth_method?: unknown }): string[] {
  const grants = Array.isArray(metadata.grant_types) ? metadata.grant_types.map(String) : [];
  if (origin === 'configured') {
    // Confidential unless `none`: client_secret_basic, client_secret_post and private_key_jwt all authenticate.
    return metadata.token_endpoint_auth_method === 'none' ? grants.filter((grant) => !PUBLIC_CONFIGURED_GRANTS.has(grant)) : [];
  }
  return grants.filter((grant) => !USER_GRANTS.has(grant));
}

export function grantTypesProblem(origin: ClientOrigin, forbidden: string[]): string {
  const which = forbidden.join(', ');
  return origin === 'configured'
    ? `grant_types ${which} need a client that authenticates, with a secret or private_key_jwt (a public client cannot hold a grant without a user)`
    : `grant_types ${which} are not available to ${origin === 'dynamic' ? 'self-registered' : 'Client ID Metadata Document'} clients: a user signs in for every grant (authorization_code, refresh_token); machine clients are registered by the operator`;
}

/**
 * Client metadata refused by origin. Each would make the server fetch a URL the client chose
 * (clientUrlFetch guards those fetches too). `jwks_uri` (private_key_jwt keys) is taken from
 * Client ID Metadata Documents — the document is fetched from the web anyway, and its key set
 * goes through the same guard — and from CLIENTS_FILE; a self-registered client registers its
 * public keys inline (`jwks`), which RFC 7592 updates can rotate, so that an anonymous
 * registration never makes the server fetch a URL of its choosing on every token request.
 */
const UNSUPPORTED_FIELDS: Record<string, { refusedFor: readonly ClientOrigin[]; problem: string }> = {
  sector_identifier_uri: {
    refusedFor: ['configured', 'metadata-document', 'dynamic'],
    problem: 'is not supported: this server issues public subject identifiers only (no pairwise subjects)',
  },
  jwks_uri: {
    refusedFor: ['dynamic'],
    problem: 'is not accepted at registration: register the public keys inline as jwks (with token_endpoint_auth_method private_key_jwt)',
  },
};

/**
 * Hooked into oidc-provider's client metadata validation, which runs for every client it
 * builds: at registration and RFC 7592 update (`ctx` set), for each metadata document it
 * fetches, and for each stored or configured client it loads (`ctx` undefined). What a
 * client may not register is refused (invalid_client_metadata). A stored self-registered
 * client from before these rules loses what it may not hold instead, so its code flow keeps
 * working while the token endpoint answers unauthorized_client for a forbidden grant.
 */
export function enforceRegistrationPolicy(ctx: unknown, metadata: Record<string, unknown>, configuredIds: ReadonlySet<string>) {
  const origin = clientOrigin(metadata.client_id, configuredIds);
  const storedBeforeTheRules = origin === 'dynamic' && ctx === undefined;
  for (const [field, { refusedFor, problem }] of Object.entries(UNSUPPORTED_FIELDS)) {
    if (metadata[field] === undefined || !refusedFor.includes(origin)) continue;
    if (!storedBeforeTheRules) throw new errors.InvalidClientMetadata(`${field} ${problem}`);
    delete metadata[field];
  }
  const forbidden = forbiddenGrantTypes(origin, metadata);
  if (forbidden.length === 0) return;
  if (!storedBeforeTheRules || !Array.isArray(metadata.grant_types)) throw new errors.InvalidClientMetadata(grantTypesProblem(origin, forbidden));
  metadata.grant_types = metadata.grant_types.filter((grant) => !forbidden.includes(String(grant)));
}
