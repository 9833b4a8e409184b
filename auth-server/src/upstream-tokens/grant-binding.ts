import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { describeError, type Logger } from '../log.ts';
import type { UpstreamTokenVault } from './vault.ts';

/**
 * Where oidc-provider's flow meets the vault (see vault.ts for the three steps):
 * - after a resume that completed a login: the login's tokens move to the session;
 * - after an authorization code is issued: the session's tokens move to the code's grant;
 * - when a grant is revoked or destroyed: its tokens are deleted;
 * - a login prompt when the grant would have no upstream tokens (a new client in an existing
 *   browser session, or tokens the IdP refused to refresh): the user signs in at the IdP again.
 * Uses provider.use, provider events and an interaction policy check (README upgrade notes).
 */

export function bindUpstreamTokens(vault: UpstreamTokenVault, logger: Logger): Middleware {
  return async (ctx, next) => {
    await next();
    const { oidc } = ctx as Partial<KoaContextWithOIDC>;
    if (!oidc || (oidc.route !== 'resume' && oidc.route !== 'authorization')) return;
    try {
      // The resumed interaction is the route's :uid; entities.Interaction is by now the next prompt's.
      const resumed = (ctx.params as { uid?: unknown } | undefined)?.uid;
      const sessionUid = oidc.session?.uid;
      if (oidc.route === 'resume' && oidc.result?.login && typeof resumed === 'string' && sessionUid) {
        await vault.attachLoginToSession(resumed, sessionUid);
      }
      const code = oidc.entities.AuthorizationCode;
      if (code?.grantId && code.sessionUid && code.accountId) {
        await vault.bindSessionToGrant(code.sessionUid, code.accountId, code.grantId);
      }
    } catch (error) {
      // The sign-in itself succeeded; without upstream tokens the exchange asks for a new sign-in.
      logger.warn({ err: describeError(error) }, 'could not keep the upstream tokens of this sign-in');
    }
  };
}

export function dropUpstreamTokensWithTheirGrant(provider: Provider, vault: UpstreamTokenVault, logger: Logger) {
  const drop = (grantId: unknown) => {
    if (typeof grantId !== 'string') return;
    vault.drop(grantId).catch((error: unknown) => logger.warn({ err: describeError(error) }, 'could not delete the upstream tokens of a revoked grant'));
  };
  // RFC 7009 revocation of a refresh token, and every other path through oidc-provider's revoke().
  provider.on('grant.revoked', (_ctx: unknown, grantId: string) => drop(grantId));
  // A grant deleted as a model (e.g. consent withdrawn through Grant#destroy).
  provider.on('grant.destroyed', (grant: { jti?: string }) => drop(grant.jti));
}

/** Adds the upstream-tokens check to the login prompt of `policy` (oidc-provider's base policy or one built on it). */
export function withUpstreamLoginCheck(policy: interactionPolicy.DefaultPolicy, vault: UpstreamTokenVault, logger: Logger) {
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('upstream_tokens', 'the identity provider has to be signed in to again for this client', async (ctx) => {
      const { oidc } = ctx;
      const { session, client } = oidc;
      // Only on a fresh authorization request: a resume just completed a sign-in or consent.
      if (oidc.result || !session?.accountId || !client) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      try {
        const grantId = session.grantIdFor(client.clientId);
        if (grantId && (await vault.has(grantId))) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        if (await vault.hasSessionLogin(session.uid)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      } catch (error) {
        logger.warn({ err: describeError(error) }, 'could not look up upstream tokens; not asking for a new sign-in');
        return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }
      return interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
