import type { Middleware } from 'koa';
import type { Adapter, AdapterFactory, KoaContextWithOIDC } from 'oidc-provider';
import { describeError, type Logger } from '../log.ts';

/**
 * oidc-provider does not store JWT access tokens (only opaque ones), and their claims name
 * no grant. Token exchange needs both: which grant a subject token belongs to, and whether
 * that grant still stands. So each JWT access token the token endpoint issues is recorded by
 * its `jti` — grant, account, client, audience; nothing of the token itself — for as long as
 * it lives. The record names its grant, so revoking the grant removes it with the grant's
 * tokens. Written after the grant handler and before the response leaves (provider.use).
 */

export const ISSUED_MODEL = 'IssuedAccessToken';

export interface IssuedAccessToken {
  grantId: string;
  accountId: string;
  clientId: string;
  aud: string | string[] | undefined;
}

export class IssuedAccessTokens {
  readonly #adapter: Adapter;

  constructor(adapter: AdapterFactory) {
    this.#adapter = adapter(ISSUED_MODEL);
  }

  async find(jti: string): Promise<IssuedAccessToken | undefined> {
    return (await this.#adapter.find(jti)) as IssuedAccessToken | undefined;
  }

  /** Records the JWT access token the token endpoint just issued, if any. */
  middleware(logger: Logger): Middleware {
    return async (ctx, next) => {
      await next();
      const { oidc } = ctx as Partial<KoaContextWithOIDC>;
      if (oidc?.route !== 'token' || ctx.status !== 200) return;
      const token = oidc.entities.AccessToken;
      const value = (ctx.body as { access_token?: unknown } | undefined)?.access_token;
      if (!token?.jti || !token.grantId || !token.accountId || typeof value !== 'string' || value.split('.').length !== 3) return;
      const record: IssuedAccessToken = {
        grantId: token.grantId,
        accountId: token.accountId,
        clientId: token.clientId!,
        aud: (token as unknown as { aud?: string | string[] }).aud,
      };
      try {
        await this.#adapter.upsert(token.jti, record as never, Math.max(1, token.remainingTTL));
      } catch (error) {
        // The token works at the resource server; only exchanging it will be refused.
        logger.warn({ err: describeError(error) }, 'could not record an issued access token for token exchange');
      }
    };
  }
}
