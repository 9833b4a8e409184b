import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * DPoP (RFC 9449 §5) for the JWT bearer grant, as oidc-provider's own grants do it: the proof
 * checked with the same code and settings (algorithms, iat window, htm/htu, nonces), its jti
 * recorded once, the access token bound to its key (`cnf.jkt`, `token_type: DPoP`). A
 * registered grant gets none of this from oidc-provider, and a resource that requires DPoP
 * (policies/dpop.ts) would otherwise be out of reach for enterprise users and workloads.
 */

export interface DpopProof {
  /** RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt`. */
  thumbprint: string;
  jti: string;
  iat: number;
}

/** What the module below exports (oidc-provider ships no types for its internals). */
interface ValidateDpopModule {
  /** Verifies the request's DPoP header (undefined without one); throws InvalidDpopProof or UseDpopNonce. */
  default: (provider: Provider, ctx: KoaContextWithOIDC) => Promise<DpopProof | undefined>;
  /** Records the proof's jti for the client (ReplayDetection); throws invalid_grant when it was seen. */
  checkDpopReplay: (provider: Provider, ctx: KoaContextWithOIDC, proof: DpopProof, clientId: string) => Promise<void>;
}

// oidc-provider's own DPoP check, which its grants use and registered grants cannot reach
// through the public API (README "Upgrade notes"); a variable specifier, as it has no types.
const INTERNAL_MODULE = 'oidc-provider/lib/helpers/validate_dpop.js';
const { default: validateDpop, checkDpopReplay } = (await import(INTERNAL_MODULE)) as ValidateDpopModule;

/**
 * The request's verified DPoP proof, its jti recorded; undefined without one. A bad proof is
 * refused (invalid_dpop_proof, use_dpop_nonce), a replayed one too (invalid_grant) — before the
 * grant looks at the assertion, so neither uses up the assertion's jti.
 */
export async function dpopProof(provider: Provider, ctx: KoaContextWithOIDC): Promise<DpopProof | undefined> {
  const proof = await validateDpop(provider, ctx);
  if (proof) await checkDpopReplay(provider, ctx, proof, ctx.oidc.client!.clientId);
  return proof;
}

/** Binds `token` to the proof's key (`cnf.jkt`, `token_type: DPoP`). */
export function bindToProof(proof: DpopProof | undefined, token: { setThumbprint(prop: 'jkt', input: string): void }): void {
  if (proof) token.setThumbprint('jkt', proof.thumbprint);
}
