import type { Context, Middleware } from 'koa';
import { StorageUnavailableError } from '../adapters/unavailable.ts';
import { describeError } from '../log.ts';
import type { Logger } from '../log.ts';
import { errorPage } from '../views.ts';

/** Seconds a client is asked to wait when a dependency is down. */
const RETRY_AFTER_SECONDS = '5';

/**
 * The last word on a request that failed with an exception. Never a stack trace, and never a
 * 500 for what is the client's fault: an error that carries a 4xx status (a body that is too
 * large or unreadable, from the body parsers) keeps it. A store that is down is a 503 with
 * Retry-After — here, and on the 503s oidc-provider answers itself. Browsers get a page in
 * the common layout, API clients an OAuth-style JSON error.
 */
export function errorBoundary(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 503 && !ctx.response.get('retry-after')) ctx.set('retry-after', RETRY_AFTER_SECONDS);
    } catch (error) {
      if (error instanceof StorageUnavailableError) {
        logger.warn({ err: describeError(error.cause), path: ctx.path }, 'storage unavailable');
        ctx.set('retry-after', RETRY_AFTER_SECONDS);
        respond(
          ctx,
          503,
          { error: 'temporarily_unavailable', error_description: error.error_description },
          'Temporarily unavailable',
          'This server cannot reach its storage right now. Try again in a moment.',
        );
        return;
      }
      const status = clientErrorStatus(error);
      if (status) {
        logger.info({ status, path: ctx.path, reason: (error as Error).message }, 'request refused');
        const message = status === 413 ? 'The request is too large.' : 'The request could not be read.';
        respond(ctx, status, { error: 'invalid_request', error_description: message }, 'Bad request', `${message} Go back to the application and start again.`);
        return;
      }
      // The log has the class and message only.
      logger.error({ err: describeError(error), path: ctx.path }, 'request failed');
      respond(
        ctx,
        500,
        { error: 'server_error', error_description: 'The server could not complete this request.' },
        'Something went wrong',
        'The server could not complete this request. Try again.',
      );
    }
  };
}

/** The status of an http-errors style client error (`expose`, 400–499), if it is one. */
function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode, expose } = error as { status?: unknown; statusCode?: unknown; expose?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return expose === true && typeof code === 'number' && code >= 400 && code < 500 ? code : undefined;
}

function respond(ctx: Context, status: number, json: { error: string; error_description: string }, title: string, message: string) {
  ctx.status = status;
  ctx.set('cache-control', 'no-store');
  if (ctx.accepts('json', 'html') === 'html') {
    ctx.type = 'html';
    ctx.body = errorPage(title, message);
  } else {
    ctx.body = json;
  }
}
