/**
 * RFC 8693 token exchange requests for tests, as a resource server makes them, with plain
 * fetch so every status and error code is visible.
 */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** client_secret_basic (RFC 6749 §2.3.1: id and secret form-urlencoded before Basic encoding). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export async function exchangeToken(
  tokenEndpointBase: string,
  client: ClientCredentials | { clientId: string },
  params: Record<string, string | undefined>,
): Promise<{ status: number; body: Record<string, unknown> & { access_token?: string; error?: string } }> {
  const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE });
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) body.delete(key);
    else body.set(key, value);
  }
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if ('clientSecret' in client) headers.authorization = basicAuthorization(client.clientId, client.clientSecret);
  else body.set('client_id', client.clientId);
  const response = await fetch(`${tokenEndpointBase}/token`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What the IdP's userinfo endpoint says for an upstream access token. */
export async function idpUserinfo(idpIssuer: string, accessToken: string) {
  const response = await fetch(`${idpIssuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> };
}
