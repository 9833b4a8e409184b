import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts.ts';
import type { Storage } from '../adapters/index.ts';
import { listGrants, type GrantView } from '../grants/grant-records.ts';
import { revokeGrant } from '../grants/revoke-grant.ts';
import { verification } from '../interactions/client-verification.ts';
import { describeScope } from '../interactions/scopes.ts';
import { malformedCallback, upstreamFault } from '../interactions/upstream-faults.ts';
import { describeError, type Logger } from '../log.ts';
import type { UpstreamIdp } from '../upstream.ts';
import { errorPage, html, layout } from '../views.ts';
import { confirmRevokePage, connectedAppsPage, type ConnectedApp } from './pages.ts';
import { ACCOUNT_SIGN_IN, csrfMatches, endSession, readSession, rememberLogin, startSession, takeLogin, type AccountSession } from './session.ts';

/**
 * Connected apps: the signed-in user sees each client they authorized (its name and who
 * vouches for it, the resource and scopes, when it was authorized and last used) and can
 * revoke it — every code and token of the grant, the consent and any upstream tokens kept
 * for it. Sign-in is the federated login at the IdP (session.ts); Revoke is a POST carrying
 * the session's CSRF token, confirmed on a second page.
 *
 *   GET  /account                          the list (signs in first when needed)
 *   GET  /account/signin                   off to the IdP
 *   GET  /account/upstream                 the IdP's answer (via /upstream/callback)
 *   POST /account/apps/:grantId/revoke     confirm, then revoke
 *   POST /account/signout
 */
export interface AccountDeps {
  provider: Provider;
  upstream: UpstreamIdp;
  accounts: AccountStore;
  storage: Storage;
  logger: Logger;
  secureCookies: boolean;
}

export function accountRoutes({ provider, upstream, accounts, storage, logger, secureCookies }: AccountDeps): Router {
  const router = new Router({ prefix: '/account' });
  router.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    await next();
  });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '4kb' });

  async function appsOf(session: AccountSession): Promise<ConnectedApp[]> {
    const grants = await listGrants(storage, (grant) => grant.accountId === session.sub);
    return Promise.all(grants.map((grant) => describeApp(provider, grant)));
  }

  router.get('/', async (ctx) => {
    const session = readSession(ctx);
    if (!session) {
      ctx.status = 303;
      ctx.redirect('/account/signin');
      return;
    }
    const profile = await accounts.get(session.sub);
    ctx.type = 'html';
    ctx.body = connectedAppsPage({
      userLabel: profile?.email ?? profile?.name ?? session.sub,
      apps: await appsOf(session),
      csrf: session.csrf,
      notice: ctx.query.done === 'revoked' ? 'Access revoked.' : undefined,
    });
  });

  router.get('/signin', async (ctx) => {
    let started;
    try {
      started = await upstream.start(ACCOUNT_SIGN_IN);
    } catch (error) {
      if (upstreamFault(error) !== 'unreachable') throw error;
      ctx.set('retry-after', '10');
      page(ctx, 503, 'Sign-in unavailable', 'The identity provider is unavailable right now. Try again shortly.');
      return;
    }
    rememberLogin(ctx, started.attempt, secureCookies);
    ctx.status = 303;
    ctx.redirect(started.url.href);
  });

  router.get('/upstream', async (ctx) => {
    const attempt = takeLogin(ctx);
    if (!attempt) {
      page(ctx, 400, 'Sign-in expired', 'This sign-in was not started in this browser, or it expired.', true);
      return;
    }
    if (malformedCallback(ctx.query)) {
      page(ctx, 400, 'Sign-in failed', 'The answer from the identity provider was malformed.', true);
      return;
    }
    if (typeof ctx.query.error === 'string') {
      page(ctx, 400, 'Sign-in not completed', 'The sign-in at the identity provider was not completed.', true);
      return;
    }
    try {
      const identity = await upstream.finish(new URL(ctx.href), attempt);
      await accounts.upsert(identity);
      startSession(ctx, identity.sub, secureCookies);
      logger.info({ sub: identity.sub }, 'user signed in to the connected-apps page');
    } catch (error) {
      const fault = upstreamFault(error);
      logger.warn({ fault, err: describeError(error) }, 'connected-apps sign-in failed');
      if (fault === 'unreachable') {
        page(ctx, 503, 'Sign-in unavailable', 'The identity provider could not be reached to finish your sign-in.', true);
        return;
      }
      page(ctx, fault === 'refused' ? 400 : 502, 'Sign-in failed', 'The identity provider’s answer could not be used.', true);
      return;
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/apps/:grantId/revoke', form, async (ctx) => {
    const session = readSession(ctx);
    if (!session) {
      page(ctx, 401, 'Signed out', 'Your sign-in to this page expired.', true);
      return;
    }
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrfMatches(session, body.csrf)) {
      page(ctx, 403, 'Request refused', 'This form did not come from your connected-apps page. Open the page again.', true);
      return;
    }
    const app = (await appsOf(session)).find((candidate) => candidate.grantId === ctx.params.grantId);
    // Someone else's grant answers like a grant that does not exist.
    if (!app) {
      page(ctx, 404, 'Not found', 'You have no connected app with this reference.', true);
      return;
    }
    if (body.confirm !== 'yes') {
      ctx.type = 'html';
      ctx.body = confirmRevokePage({ app, csrf: session.csrf });
      return;
    }
    await revokeGrant(storage, app.grantId);
    logger.info({ sub: session.sub, client: app.clientId }, 'user revoked a connected app');
    ctx.status = 303;
    ctx.redirect('/account?done=revoked');
  });

  router.post('/signout', form, async (ctx) => {
    const session = readSession(ctx);
    if (session && csrfMatches(session, (ctx.request.body as Record<string, unknown> | undefined)?.csrf)) endSession(ctx);
    ctx.type = 'html';
    ctx.body = layout(
      'Signed out',
      html`<h1>Signed out</h1>
        <p>You are signed out of the connected-apps page. Your applications keep the access you gave them.</p>
        <p><a href="/account">Sign in again</a></p>`,
    );
  });

  return router;
}

function page(ctx: Context, status: number, title: string, message: string, offerSignIn = false) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = errorPage(title, message, offerSignIn ? { href: '/account/signin', label: 'Sign in to your connected apps' } : undefined);
}

const when = (epoch: number | undefined) => (epoch ? `${new Date(epoch * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—');

async function describeApp(provider: Provider, grant: GrantView): Promise<ConnectedApp> {
  // A metadata-document client may need its document fetched; a deleted client is shown by id.
  const client = await provider.Client.find(grant.clientId).catch(() => undefined);
  return {
    grantId: grant.grantId,
    clientId: grant.clientId,
    clientName: client?.clientName ?? (client ? grant.clientId : `${grant.clientId} (no longer registered)`),
    ...(client ? verification(client) : { verified: false, verifiedBy: undefined }),
    resources: grant.resources.map((resource) => ({ url: resource.url, scopes: resource.scopes.map((name) => ({ name, description: describeScope(name) })) })),
    authorizedAt: when(grant.authorizedAt),
    lastUsedAt: when(grant.lastUsedAt),
  };
}
