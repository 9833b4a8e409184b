import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { UpstreamAttempt } from '../upstream.ts';

/**
 * The connected-apps page's own sign-in: the same federated login at the IdP as every
 * authorization, remembered in a signed, httpOnly cookie scoped to /account for an hour. It
 * is not an oidc-provider session: signing in here authorizes no client, and signing out
 * here ends no client's access. Each session carries a CSRF token its forms must echo.
 */

/** The state label of a sign-in to /account at the IdP (interaction uids never look like this). */
export const ACCOUNT_SIGN_IN = 'account';

const SESSION_COOKIE = 'account_session';
const LOGIN_COOKIE = 'account_login';
const SESSION_SECONDS = 60 * 60;

export interface AccountSession {
  sub: string;
  csrf: string;
  /** Epoch seconds. */
  exp: number;
}

const cookieOptions = (secure: boolean, maxAgeSeconds: number) => ({
  signed: true,
  httpOnly: true,
  sameSite: 'lax' as const,
  secure,
  path: '/account',
  maxAge: maxAgeSeconds * 1000,
});

function readJson(ctx: Context, name: string): unknown {
  const raw = ctx.cookies.get(name, { signed: true });
  if (!raw) return undefined;
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return undefined; // a tampered cookie fails the signature check first
  }
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function readSession(ctx: Context): AccountSession | undefined {
  const session = readJson(ctx, SESSION_COOKIE) as Partial<AccountSession> | undefined;
  if (typeof session?.sub !== 'string' || typeof session.csrf !== 'string' || typeof session.exp !== 'number') return undefined;
  return session.exp > Date.now() / 1000 ? (session as AccountSession) : undefined;
}

export function startSession(ctx: Context, sub: string, secure: boolean) {
  const session: AccountSession = { sub, csrf: randomBytes(24).toString('base64url'), exp: Math.floor(Date.now() / 1000) + SESSION_SECONDS };
  ctx.cookies.set(SESSION_COOKIE, encode(session), cookieOptions(secure, SESSION_SECONDS));
}

export function endSession(ctx: Context) {
  ctx.cookies.set(SESSION_COOKIE, null, { path: '/account' });
}

/** The form's CSRF token equals the session's (constant time). */
export function csrfMatches(session: AccountSession, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const [a, b] = [Buffer.from(session.csrf), Buffer.from(submitted)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The upstream attempt (state, nonce, PKCE verifier) between the redirect to the IdP and its answer. */
export function rememberLogin(ctx: Context, attempt: UpstreamAttempt, secure: boolean) {
  ctx.cookies.set(LOGIN_COOKIE, encode(attempt), cookieOptions(secure, 10 * 60));
}

export function takeLogin(ctx: Context): UpstreamAttempt | undefined {
  const attempt = readJson(ctx, LOGIN_COOKIE) as Partial<UpstreamAttempt> | undefined;
  ctx.cookies.set(LOGIN_COOKIE, null, { path: '/account' });
  return typeof attempt?.state === 'string' && typeof attempt.nonce === 'string' && typeof attempt.codeVerifier === 'string'
    ? (attempt as UpstreamAttempt)
    : undefined;
}
