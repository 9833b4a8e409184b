// Koa routes for oidc-provider's interactions: Dex's password login form, then consent,
// granted automatically (Dex runs with oauth2.skipApprovalScreen: true).

import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Logger } from 'pino';
import type { StaticUsers } from '../users.ts';
import { errorPage } from '../views/error.ts';
import { loginPage } from '../views/login.ts';

export interface InteractionRoutesOptions {
  provider: Provider;
  users: StaticUsers;
  /** Absolute path prefix, e.g. `/dex/interaction` (what the provider's interactions.url returns). */
  prefix: string;
  logger: Logger;
}

export const INVALID_CREDENTIALS = 'Invalid email or password.';

/** Larger bodies are refused: a login form is two short fields. */
const FORM_LIMIT = '8kb';
const MAX_FIELD_LENGTH = 1024;

class BadRequest extends Error {
  status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

function securityHeaders(ctx: Context) {
  ctx.set('cache-control', 'no-store');
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('x-frame-options', 'DENY');
  ctx.set('referrer-policy', 'no-referrer');
  // No form-action: after the login POST the browser follows redirects to the client.
  ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string' || value === '') {
    throw new BadRequest(`The login form was submitted without a ${name}.`);
  }
  if (value.length > MAX_FIELD_LENGTH) throw new BadRequest(`The ${name} field is too long.`);
  return value;
}

export function interactionRoutes(options: InteractionRoutesOptions): Router {
  const { provider, users, prefix, logger } = options;
  const router = new Router({ prefix });

  // Every failure here is a page a person can read, never a stack trace.
  router.use(async (ctx: Context, next: Next) => {
    securityHeaders(ctx);
    try {
      await next();
    } catch (err) {
      ctx.type = 'html';
      if (err instanceof errors.OIDCProviderError) {
        // e.g. SessionNotFound: the interaction cookie is missing or the interaction expired.
        ctx.status = err.status;
        ctx.body = errorPage({
          title: 'This login request cannot continue',
          error: err.error,
          description: `${err.error_description ?? ''} Start again from the application you were signing in to.`.trim(),
        });
      } else if (err instanceof BadRequest) {
        ctx.status = err.status;
        ctx.body = errorPage({ title: 'Bad request', description: err.message });
      } else if (isHttpClientError(err)) {
        // Body parser errors (too large, malformed encoding).
        ctx.status = err.status === 413 ? 413 : 400;
        ctx.body = errorPage({
          title: 'Bad request',
          description: err.status === 413 ? 'The submitted form is too large.' : 'The submitted form could not be read.',
        });
      } else {
        logger.error({ err }, 'interaction failed');
        ctx.status = 500;
        ctx.body = errorPage({ title: 'Something went wrong', description: 'The login could not be completed.' });
      }
    }
  });

  router.get('/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw new BadRequest('This login link does not match the current login.');
    const clientId = String(details.params.client_id);

    switch (details.prompt.name) {
      case 'login': {
        const client = await provider.Client.find(clientId);
        ctx.type = 'html';
        ctx.body = loginPage({
          action: `${prefix}/${details.uid}/login`,
          clientName: client?.clientName ?? clientId,
        });
        return;
      }
      case 'consent': {
        const accountId = details.session?.accountId;
        if (accountId === undefined) throw new BadRequest('There is no signed-in user for this request.');
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
        if (!grant) throw new BadRequest('The grant for this request no longer exists.');
        const { missingOIDCScope, missingOIDCClaims } = details.prompt.details as {
          missingOIDCScope?: string[];
          missingOIDCClaims?: string[];
        };
        if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope);
        if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
        const grantId = await grant.save();
        const redirectTo = await provider.interactionResult(
          ctx.req,
          ctx.res,
          { consent: details.grantId ? {} : { grantId } },
          { mergeWithLastSubmission: true },
        );
        ctx.status = 303;
        ctx.redirect(redirectTo);
        return;
      }
      default:
        throw new BadRequest(`dev-idp cannot handle the "${details.prompt.name}" prompt.`);
    }
  });

  router.post('/:uid/login', bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT }), async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw new BadRequest('This login form does not match the current login.');
    if (details.prompt.name !== 'login') throw new BadRequest('This login request is not waiting for a password.');

    const body = (ctx.request as unknown as { body: unknown }).body;
    const login = field(body, 'login');
    const password = field(body, 'password');

    const user = await users.authenticate(login, password);
    if (!user) {
      logger.info({ client_id: details.params.client_id }, 'login refused: invalid email or password');
      const client = await provider.Client.find(String(details.params.client_id));
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage({
        action: `${prefix}/${details.uid}/login`,
        clientName: client?.clientName ?? String(details.params.client_id),
        login,
        error: INVALID_CREDENTIALS,
      });
      return;
    }

    logger.info({ sub: user.userID, client_id: details.params.client_id }, 'user logged in');
    const redirectTo = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: user.userID, amr: ['pwd'], remember: false } },
      { mergeWithLastSubmission: false },
    );
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  return router;
}

function isHttpClientError(err: unknown): err is { status: number } {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
