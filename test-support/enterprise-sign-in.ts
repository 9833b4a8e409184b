/**
 * The client side of enterprise-managed authorization (MCP SEP-990), for tests, in plain
 * fetch so every status is visible: the user signs in at dev-idp as one of its public
 * enterprise clients (code + PKCE through the login form), the client exchanges the ID token
 * for an ID-JAG at dev-idp (RFC 8693), and redeems the ID-JAG at the auth server (RFC 7523).
 */
import { randomBytes } from 'node:crypto';
import { authorizeClient, type DemoUser } from './oauth-flow.ts';
import { basicAuthorization, TOKEN_EXCHANGE } from './token-exchange.ts';

/** Any loopback port: dev-idp's enterprise clients are native apps (RFC 8252 §7.3). */
const REDIRECT_URI = 'http://127.0.0.1:1/callback';

export { TOKEN_EXCHANGE };
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

async function post(url: string, params: Record<string, string | undefined>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Signs `user` in at dev-idp as `clientId` (a public client) and returns the ID token it issued to that client. */
export async function signInAtIdp(idpIssuer: string, clientId: string, user: DemoUser): Promise<string> {
  const { callback, verifier } = await authorizeClient({
    issuer: idpIssuer,
    clientId,
    redirectUri: REDIRECT_URI,
    user,
    params: { scope: 'openid email profile', state: randomBytes(8).toString('hex'), nonce: randomBytes(8).toString('hex') },
  });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`dev-idp answered the sign-in with ${callback.search}`);
  const tokens = await post(`${idpIssuer}/token`, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT_URI,
    client_id: clientId,
  });
  if (tokens.status !== 200 || typeof tokens.body.id_token !== 'string') throw new Error(`dev-idp token request failed: ${JSON.stringify(tokens.body)}`);
  return tokens.body.id_token;
}

/** The token exchange at dev-idp: ID token → ID-JAG (the draft's §4.3 request; parameters may be overridden or left out with undefined). */
export async function requestIdJag(
  idpIssuer: string,
  params: { clientId: string; idToken: string; audience: string; resource?: string; scope?: string } & Record<string, string | undefined>,
) {
  const { clientId, idToken, audience, resource, scope, ...rest } = params;
  return post(`${idpIssuer}/token`, {
    grant_type: TOKEN_EXCHANGE,
    client_id: clientId,
    subject_token: idToken,
    subject_token_type: ID_TOKEN_TYPE,
    requested_token_type: ID_JAG_TYPE,
    audience,
    resource,
    scope,
    ...rest,
  });
}

/** The JWT bearer grant at the auth server, authenticated with client_secret_basic when a secret is given. */
export async function redeemAssertion(
  authServerIssuer: string,
  params: { assertion: string; clientId: string; clientSecret?: string; resource?: string; scope?: string },
) {
  const { assertion, clientId, clientSecret, resource, scope } = params;
  const basic = clientSecret ? { authorization: basicAuthorization(clientId, clientSecret) } : undefined;
  return post(`${authServerIssuer}/token`, { grant_type: JWT_BEARER, assertion, resource, scope, ...(basic ? {} : { client_id: clientId }) }, basic);
}
