import { createHash } from 'node:crypto';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { decodeJwt } from 'jose';
import { callerOf } from '../auth/verifier.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { UpstreamSignInRequired, UpstreamUnavailable } from './errors.ts';
import { TokenExchangeClient, type ExchangedToken } from './exchange.ts';
import { UpstreamTokenCache } from './token-cache.ts';
import { IdpUserinfo } from './userinfo.ts';

export { UpstreamSignInRequired, UpstreamUnavailable } from './errors.ts';

/**
 * What a tool needs to call an upstream API as the user: the user's upstream access token
 * for the verified call (exchanged at the AS, cached), and the IdP's userinfo as an example
 * of such an API. See the README's guide "A tool that calls an upstream API as the user".
 */
export interface Upstream {
  issuer: string;
  /** The user's upstream access token for this call; throws UpstreamSignInRequired or UpstreamUnavailable. */
  tokenFor(auth: AuthInfo): Promise<ExchangedToken>;
  /** The upstream API refused the token: the next call exchanges again. */
  forget(auth: AuthInfo): void;
  userinfo: IdpUserinfo;
}

export function createUpstream(config: Config, logger?: Logger): Upstream {
  const { issuer, internalUrl, exchangeClient } = config.upstream;
  const exchange = exchangeClient
    ? new TokenExchangeClient({ issuer: config.authServer.issuer, internalUrl: config.authServer.internalUrl, ...exchangeClient, audience: issuer })
    : undefined;
  const cache = new UpstreamTokenCache();
  return {
    issuer,
    userinfo: new IdpUserinfo({ issuer, internalUrl }),
    async tokenFor(auth) {
      if (!exchange) throw new UpstreamUnavailable('this server is not set up to call upstream APIs (TOKEN_EXCHANGE_CLIENT_ID is not set)');
      const caller = callerOf(auth);
      return cache.get(cacheKey(auth), caller.expiresAt * 1000, () =>
        exchange.exchange(auth.token).catch((error: unknown) => {
          // A refusal other than "sign in again" is the operator's to fix (client, secret, AS).
          if (!(error instanceof UpstreamSignInRequired)) logger?.warn({ client: caller.clientId, reason: (error as Error).message }, 'token exchange failed');
          throw error;
        }),
      );
    },
    forget(auth) {
      cache.forget(cacheKey(auth));
    },
  };
}

/** Per MCP access token: subject, client and the token's jti (a hash of the token when it is not a JWT). */
function cacheKey(auth: AuthInfo): string {
  const caller = callerOf(auth);
  let tokenId: string;
  try {
    tokenId = decodeJwt(auth.token).jti ?? sha256(auth.token);
  } catch {
    tokenId = sha256(auth.token);
  }
  return sha256(`${caller.subject}\0${caller.clientId}\0${tokenId}`);
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
