import * as client from 'openid-client';
import type { UpstreamIdp } from '../upstream.ts';
import type { RefreshResult } from './access.ts';
import { tokenSetFrom } from './token-set.ts';

/**
 * The refresh token grant at the IdP, as the auth server's own client there. Only the
 * error code leaves this function: openid-client errors can carry response bodies.
 */
export function refreshAtIdp(upstream: UpstreamIdp): (refreshToken: string) => Promise<RefreshResult> {
  return async (refreshToken) => {
    try {
      const response = await client.refreshTokenGrant(await upstream.configuration(), refreshToken);
      return { ok: true, tokens: tokenSetFrom(response) };
    } catch (error) {
      if (error instanceof client.ResponseBodyError) {
        return { ok: false, refused: error.error === 'invalid_grant', reason: `${error.error} (HTTP ${error.status})` };
      }
      return { ok: false, refused: false, reason: error instanceof Error ? error.name : 'unknown error' };
    }
  };
}
