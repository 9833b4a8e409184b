import { AuthServerUnavailableError } from './verifier.ts';

/**
 * The authorization server's RFC 8414 metadata, fetched over the back channel when one is
 * configured (containers). Tokens and metadata keep naming the public issuer; only the
 * URLs this server fetches are rewritten.
 */
export interface AuthServerLocation {
  issuer: string;
  /** Back-channel base URL for the AS (containers); metadata, JWKS and introspection are fetched there. */
  internalUrl?: string | undefined;
}

export interface AuthServerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  [key: string]: unknown;
}

/** RFC 8414 §3.1: the well-known suffix goes between the issuer's origin and its path. */
export function authorizationServerMetadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/** client_secret_basic (RFC 6749 §2.3.1): client id and secret are form-urlencoded before Basic encoding. */
export function basicClientAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

/** A URL under the public issuer's origin, rewritten to the back-channel origin when configured. */
export function backChannel(url: string, location: AuthServerLocation): string {
  if (!location.internalUrl) return url;
  const from = new URL(location.issuer).origin;
  return url.startsWith(from) ? new URL(location.internalUrl).origin + url.slice(from.length) : url;
}

export async function fetchAuthServerMetadata(location: AuthServerLocation, timeoutMs = 5000): Promise<AuthServerMetadata> {
  const metadataUrl = backChannel(authorizationServerMetadataUrl(location.issuer), location);
  let metadata: Partial<AuthServerMetadata>;
  try {
    const response = await fetch(metadataUrl, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    metadata = (await response.json()) as Partial<AuthServerMetadata>;
  } catch (error) {
    throw new AuthServerUnavailableError(`authorization server metadata unavailable at ${metadataUrl}: ${(error as Error).message}`);
  }
  // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
  if (metadata.issuer !== location.issuer) {
    throw new AuthServerUnavailableError(`authorization server metadata names issuer ${String(metadata.issuer)}, expected ${location.issuer}`);
  }
  return metadata as AuthServerMetadata;
}
