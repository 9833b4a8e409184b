import { AuthServerUnavailableError, InvalidTokenError, type TokenVerifier } from '../auth/verifier.ts';
import type { ResourceMetrics } from './registry.ts';

/** The verifier, with each verification timed by outcome; what it returns or throws is unchanged. */
export function timedVerifier(verifier: TokenVerifier, metrics: ResourceMetrics): TokenVerifier {
  return {
    async verify(token) {
      const end = metrics.verificationSeconds.startTimer();
      try {
        const authInfo = await verifier.verify(token);
        end({ outcome: 'valid' });
        return authInfo;
      } catch (error) {
        end({ outcome: error instanceof InvalidTokenError ? 'invalid' : error instanceof AuthServerUnavailableError ? 'unavailable' : 'error' });
        throw error;
      }
    },
    readiness: () => verifier.readiness(),
  };
}
