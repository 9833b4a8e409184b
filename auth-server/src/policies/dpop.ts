import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { z } from 'zod';
import { JWT_BEARER } from '../jwt-bearer/grant-type.ts';

/**
 * DPoP (RFC 9449) at the token endpoint. oidc-provider does the protocol: it verifies the
 * proof (signature with its embedded key, typ, htm, htu, iat, jti replay in the shared
 * store), binds the access token (`cnf.jkt`, `token_type: DPoP`), binds public clients'
 * refresh tokens to the same key, and issues nonces when it has a secret. What is decided
 * here: whether nonces are required, and which resources accept only DPoP-bound tokens.
 */

/** `optional`: Bearer and DPoP tokens alike; `required`: a token request without a proof is refused. */
export const dpopModes = ['optional', 'required'] as const;
export type DpopMode = (typeof dpopModes)[number];

export const dpopVariables = {
  /** DPoP for RESOURCE_URL (a RESOURCES_FILE declares it per resource instead). */
  RESOURCE_DPOP: z.enum(dpopModes, { error: 'must be optional or required' }).default('optional'),
  /**
   * 32 random bytes (base64url or hex): when set, every DPoP proof at the token endpoint must
   * carry a nonce this server issued (`use_dpop_nonce`). The same value on every instance.
   */
  DPOP_NONCE_SECRET: z
    .string()
    .transform((value, ctx) => {
      const bytes = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64url');
      if (bytes.length !== 32) ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, base64url or hex (e.g. `openssl rand -hex 32`)' });
      return bytes;
    })
    .optional(),
};

export interface DpopConfig {
  nonceSecret: Buffer | undefined;
}

export function dpopConfig(env: { DPOP_NONCE_SECRET?: Buffer | undefined }): DpopConfig {
  return { nonceSecret: env.DPOP_NONCE_SECRET };
}

type DpopFeature = NonNullable<NonNullable<Configuration['features']>['dPoP']>;

/** oidc-provider's `features.dPoP`: on, replays refused, nonces required exactly when there is a secret. */
export function dpopFeature(config: DpopConfig): DpopFeature {
  const required = config.nonceSecret !== undefined;
  return {
    enabled: true,
    allowReplay: false,
    ...(config.nonceSecret ? { nonceSecret: config.nonceSecret } : {}),
    requireNonce: () => required,
  };
}

/** The grants whose handlers verify the DPoP header before they resolve the resource (jwt-bearer/dpop-binding.ts for the last). */
const PROOF_CHECKED_GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials', JWT_BEARER]);

/**
 * Refuses, at the token endpoint, a token for a resource that requires DPoP when the request
 * carries no proof. Called from getResourceServerInfo: by then oidc-provider's grant handler
 * has verified the DPoP header (an invalid one is already refused with invalid_dpop_proof),
 * so a header present here is a valid proof the token will be bound to.
 */
export function requireProofFor(ctx: KoaContextWithOIDC, mode: DpopMode | undefined, resource: string) {
  if (mode !== 'required' || ctx.oidc.route !== 'token') return;
  const grantType = (ctx.oidc.params as { grant_type?: unknown } | undefined)?.grant_type;
  if (typeof grantType !== 'string' || !PROOF_CHECKED_GRANTS.has(grantType)) return;
  if (ctx.get('dpop')) return;
  throw new errors.InvalidDpopProof(`${resource} accepts only DPoP-bound access tokens: send a DPoP proof (RFC 9449) with the token request`);
}
