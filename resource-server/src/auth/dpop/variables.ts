import { z } from 'zod';

/**
 * DPoP (RFC 9449) at the bearer gate: which schemes this resource accepts, the proof
 * algorithms, how old a proof may be, and server nonces. Spread into config.ts.
 */

export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'] as const;

const csv = z.string().transform((value) => value.split(/[\s,]+/).filter(Boolean));

export const dpopVariables = {
  /** `optional`: Bearer and DPoP tokens; `required`: DPoP-bound tokens only. */
  DPOP: z.enum(['optional', 'required'], { error: 'must be optional or required' }).default('optional'),
  /** Proof algorithms accepted (asymmetric only): the auth server's dpop_signing_alg_values_supported by default. */
  DPOP_ALGS: csv.pipe(z.array(z.enum(DPOP_ALGORITHMS, { error: `must be among ${DPOP_ALGORITHMS.join(', ')}` })).min(1)).default(['ES256', 'Ed25519', 'EdDSA']),
  /** A proof's `iat` may be this many seconds old (CLOCK_TOLERANCE ahead); its jti is remembered as long. */
  DPOP_PROOF_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(600).default(60),
  /** 32 random bytes (base64url or hex): when set, every proof must carry a nonce this server (or one sharing the secret) issued. */
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
  mode: 'optional' | 'required';
  algorithms: string[];
  maxAgeSeconds: number;
  nonceSecret: Buffer | undefined;
}

export function dpopConfig(env: {
  DPOP: 'optional' | 'required';
  DPOP_ALGS: string[];
  DPOP_PROOF_MAX_AGE_SECONDS: number;
  DPOP_NONCE_SECRET?: Buffer | undefined;
}): DpopConfig {
  return { mode: env.DPOP, algorithms: env.DPOP_ALGS, maxAgeSeconds: env.DPOP_PROOF_MAX_AGE_SECONDS, nonceSecret: env.DPOP_NONCE_SECRET };
}
