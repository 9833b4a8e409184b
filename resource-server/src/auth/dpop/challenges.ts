import { wwwAuthenticate } from '../challenge.ts';
import { InvalidTokenError } from '../verifier.ts';
import { UseDpopNonceError, type Scheme } from './check.ts';
import { InvalidDpopProofError } from './proof.ts';

/**
 * The WWW-Authenticate of a 401: one challenge per scheme the resource accepts — `Bearer …,
 * DPoP algs="…" …` when DPoP is optional, `DPoP …` alone when it is required (RFC 9449
 * §7.1, §7.2) — each with the up-front scopes and resource_metadata, so a client reading
 * either finds its way. The error sits in the challenge of the scheme it concerns (the one
 * the request used; DPoP when Bearer is not accepted at all). One header value: the metrics
 * hook and clients that read only the first header see it whole.
 */

export interface Refusal {
  error: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce';
  description: string;
  scheme: Scheme;
}

export function refusalOf(error: Error, requestScheme: Scheme | undefined, mode: 'optional' | 'required'): Refusal | undefined {
  const scheme = mode === 'required' ? 'DPoP' : (requestScheme ?? 'Bearer');
  if (error instanceof InvalidDpopProofError) return { error: 'invalid_dpop_proof', description: error.message, scheme: 'DPoP' };
  if (error instanceof UseDpopNonceError) return { error: 'use_dpop_nonce', description: error.message, scheme: 'DPoP' };
  if (error instanceof InvalidTokenError) return { error: 'invalid_token', description: error.message, scheme };
  return undefined;
}

export function unauthorizedChallenges(options: {
  mode: 'optional' | 'required';
  algorithms: readonly string[];
  resourceMetadataUrl: string;
  scopes: readonly string[];
  refusal?: Refusal | undefined;
}): string {
  const { refusal } = options;
  const errorFor = (scheme: Scheme) => (refusal?.scheme === scheme ? { error: refusal.error, errorDescription: refusal.description } : {});
  const common = { resourceMetadataUrl: options.resourceMetadataUrl, scopes: options.scopes };
  const dpop = wwwAuthenticate({ ...common, scheme: 'DPoP', algs: options.algorithms, ...errorFor('DPoP') });
  if (options.mode === 'required') return dpop;
  return `${wwwAuthenticate({ ...common, ...errorFor('Bearer') })}, ${dpop}`;
}
