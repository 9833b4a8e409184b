/** Why a tool could not get the user's upstream token; every message is safe to show the user. */

/** The user has to sign in again (the AS holds no usable upstream tokens, or the IdP refused them). */
export class UpstreamSignInRequired extends Error {
  override name = 'UpstreamSignInRequired';
}

/** The AS or the IdP cannot be reached right now, or this server is not set up for token exchange. */
export class UpstreamUnavailable extends Error {
  override name = 'UpstreamUnavailable';
}
