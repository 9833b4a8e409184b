import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import type { AccountStore } from '../accounts.ts';
import { describeError, type Logger } from '../log.ts';
import type { InteractionObserver } from '../metrics/registry.ts';
import type { UpstreamAttempt, UpstreamIdp } from '../upstream.ts';
import type { UpstreamTokenVault } from '../upstream-tokens/vault.ts';
import { consentPage, errorPage } from '../views.ts';
import { ACCOUNT_SIGN_IN } from '../account/session.ts';
import { verification } from './client-verification.ts';
import { describeScope } from './scopes.ts';
import { malformedCallback, upstreamFault } from './upstream-faults.ts';

/**
 * The interaction endpoints oidc-provider sends the browser to:
 *   GET  /interaction/:uid           login → off to the upstream IdP; consent → the consent page
 *   GET  /upstream/callback          the IdP's fixed redirect URI: forwards to the interaction
 *                                    named in `state`, where the interaction cookies are sent
 *   GET  /interaction/:uid/upstream  validate the IdP's answer, record the account, resume
 *   POST /interaction/:uid/consent   Allow or Deny
 *
 * The upstream attempt (state, nonce, PKCE verifier) lives in a signed, httpOnly cookie
 * scoped to the interaction's path, so only the browser that started it can finish it.
 */

const UPSTREAM_COOKIE = 'upstream_login';

interface PendingLogin extends UpstreamAttempt {
  uid: string;
}

export interface InteractionDeps {
  provider: Provider;
  upstream: UpstreamIdp;
  /** Keeps what the IdP returned (sealed) until the grant of this sign-in exists. */
  upstreamTokens: Pick<UpstreamTokenVault, 'keepLogin'>;
  accounts: AccountStore;
  logger: Logger;
  secureCookies: boolean;
  /** Told each IdP login's outcome and each Deny (metrics). */
  observer?: InteractionObserver;
}

export function interactionRoutes({ provider, upstream, upstreamTokens, accounts, logger, secureCookies, observer }: InteractionDeps): Router {
  const router = new Router();

  router.use(async (ctx, next) => {
    // Pages of a login flow are never cached (framing and CSP: http/page-headers.ts).
    ctx.set('cache-control', 'no-store');
    try {
      await next();
    } catch (error) {
      if (error instanceof errors.SessionNotFound) {
        renderError(ctx, 400, 'Sign-in expired', 'This sign-in is no longer valid. Go back to the application and start again.');
        return;
      }
      throw error;
    }
  });

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, uid } = details;

    if (prompt.name === 'login') {
      let started;
      try {
        started = await upstream.start(uid);
      } catch (error) {
        if (upstreamFault(error) !== 'unreachable') throw error;
        observer?.idpLogin('unavailable');
        logger.warn({ err: describeError(error) }, 'upstream IdP unreachable: login not started');
        ctx.set('retry-after', '10');
        renderError(ctx, 503, 'Sign-in unavailable', 'The identity provider is unavailable right now. Try again shortly.');
        return;
      }
      const { url, attempt } = started;
      const pending: PendingLogin = { uid, ...attempt };
      ctx.cookies.set(UPSTREAM_COOKIE, Buffer.from(JSON.stringify(pending)).toString('base64url'), {
        signed: true,
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookies,
        path: `/interaction/${uid}`,
        maxAge: 10 * 60 * 1000,
      });
      ctx.status = 303;
      ctx.redirect(url.href);
      return;
    }

    if (prompt.name === 'consent') {
      const client = await provider.Client.find(String(params.client_id));
      if (!client) throw new errors.SessionNotFound('client not found');
      const account = details.session?.accountId ? await accounts.get(details.session.accountId) : undefined;
      const redirectUri = URL.parse(String(params.redirect_uri));
      const missing = prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      // Everything the client asks for, not only what is new: native clients are asked again
      // on every authorization (RFC 8252 §8.6) and the user should see what they approve.
      const requested = (typeof params.scope === 'string' ? params.scope : '').split(' ').filter(Boolean);
      const missingScopes = [...(missing.missingOIDCScope ?? []), ...Object.values(missing.missingResourceScopes ?? {}).flat()];
      const scopes = [...new Set([...requested, ...missingScopes])];
      ctx.type = 'html';
      ctx.body = consentPage({
        uid,
        clientId: client.clientId,
        clientName: client.clientName ?? client.clientId,
        redirectHost: redirectUri?.host || String(params.redirect_uri),
        ...verification(client),
        scopes: scopes.map((name) => ({ name, description: describeScope(name) })),
        resource: Object.keys(missing.missingResourceScopes ?? {})[0] ?? (typeof params.resource === 'string' ? params.resource : undefined),
        userLabel: account?.email ?? account?.name ?? details.session?.accountId ?? 'unknown user',
      });
      return;
    }

    renderError(ctx, 400, 'Unsupported step', 'This sign-in asked for a step this server does not offer.');
  });

  router.get('/upstream/callback', async (ctx) => {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const uid = state.split('.')[0] ?? '';
    // A sign-in to the connected-apps page, not an authorization (account/routes.ts).
    if (uid === ACCOUNT_SIGN_IN) {
      ctx.status = 303;
      ctx.redirect(`/account/upstream?${ctx.querystring}`);
      return;
    }
    if (!/^[\w-]{1,64}$/.test(uid)) {
      renderError(ctx, 400, 'Sign-in expired', 'The identity provider answered without a valid sign-in reference. Start again from the application.');
      return;
    }
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}/upstream?${ctx.querystring}`);
  });

  router.get('/interaction/:uid/upstream', async (ctx) => {
    const pending = readPendingLogin(ctx);
    if (!pending || pending.uid !== ctx.params.uid) {
      renderError(
        ctx,
        400,
        'Sign-in expired',
        'The identity provider answered a sign-in this browser did not start, or one that expired. Start again from the application.',
      );
      return;
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== pending.uid || details.prompt.name !== 'login') {
      renderError(ctx, 400, 'Sign-in expired', 'The identity provider answered a different sign-in. Start again from the application.');
      return;
    }
    ctx.cookies.set(UPSTREAM_COOKIE, null, { path: `/interaction/${pending.uid}` });

    const malformed = malformedCallback(ctx.query);
    if (malformed) {
      logger.info({ reason: malformed }, 'malformed upstream callback');
      observer?.idpLogin('malformed');
      renderError(ctx, 400, 'Sign-in failed', 'The answer from the identity provider was malformed. Start again from the application.');
      return;
    }
    const upstreamError = ctx.query.error;
    if (typeof upstreamError === 'string') {
      logger.info({ upstreamError }, 'upstream login ended without a user');
      observer?.idpLogin('cancelled');
      await finish(ctx, provider, {
        error: 'access_denied',
        error_description: 'The sign-in at the identity provider was not completed.',
      });
      return;
    }

    let identity, tokens;
    try {
      ({ identity, tokens } = await upstream.finishWithTokens(new URL(ctx.href), pending));
    } catch (error) {
      const fault = upstreamFault(error);
      logger.warn({ err: describeError(error), fault }, 'upstream code exchange failed');
      observer?.idpLogin(fault === 'unreachable' ? 'unavailable' : fault === 'refused' ? 'refused' : 'unverifiable');
      if (fault === 'unreachable') {
        ctx.set('retry-after', '10');
        renderError(
          ctx,
          503,
          'Sign-in unavailable',
          'The identity provider could not be reached to finish your sign-in. Start again from the application in a moment.',
        );
      } else if (fault === 'refused') {
        renderError(
          ctx,
          400,
          'Sign-in failed',
          'The identity provider refused to complete this sign-in (it may have expired). Start again from the application.',
        );
      } else {
        renderError(ctx, 502, 'Sign-in failed', 'The identity provider’s answer could not be verified. Start again from the application.');
      }
      return;
    }
    observer?.idpLogin('success');
    await accounts.upsert(identity);
    // Without them the MCP sign-in still works; a tool needing the IdP asks for a new sign-in.
    await upstreamTokens
      .keepLogin(pending.uid, identity.sub, tokens)
      .catch((error: unknown) => logger.warn({ err: describeError(error) }, 'could not keep the upstream tokens'));
    logger.info({ sub: identity.sub }, 'user signed in through the upstream IdP');
    await finish(ctx, provider, { login: { accountId: identity.sub } });
  });

  router.post('/interaction/:uid/consent', bodyParser({ enableTypes: ['form'], formLimit: '4kb' }), async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid || details.prompt.name !== 'consent') {
      renderError(ctx, 400, 'Sign-in expired', 'This consent page is no longer valid. Start again from the application.');
      return;
    }
    const decision = (ctx.request.body as Record<string, unknown> | undefined)?.decision;
    if (decision !== 'allow') {
      observer?.consentDenied();
      await finish(ctx, provider, { error: 'access_denied', error_description: 'The user denied the request.' });
      return;
    }

    const { prompt, params, session } = details;
    const missing = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
    if (!grant) throw new errors.SessionNotFound('grant not found');
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await finish(ctx, provider, { consent: details.grantId ? {} : { grantId } }, true);
  });

  return router;
}

async function finish(ctx: Context, provider: Provider, result: InteractionResults, merge = false) {
  // interactionFinished writes the redirect itself; Koa must not touch the response after it.
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
}

function readPendingLogin(ctx: Context): PendingLogin | undefined {
  const raw = ctx.cookies.get(UPSTREAM_COOKIE, { signed: true });
  if (!raw) return undefined;
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<PendingLogin>;
    if (typeof value.uid === 'string' && typeof value.state === 'string' && typeof value.nonce === 'string' && typeof value.codeVerifier === 'string') {
      return value as PendingLogin;
    }
  } catch {
    // a tampered cookie fails the signature check first; anything else is simply not ours
  }
  return undefined;
}

function renderError(ctx: Context, status: number, title: string, message: string) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = errorPage(title, message);
}
