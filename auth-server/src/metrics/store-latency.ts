import type { Adapter, AdapterFactory } from 'oidc-provider';
import { decorateAdapter } from '../adapters/decorate.ts';
import type { AuthMetrics } from './registry.ts';

/** Every adapter call timed into the store latency histogram; what it returns or throws is unchanged. */
export function timedAdapters(factory: AdapterFactory, backend: string, metrics: AuthMetrics): AdapterFactory {
  const timed = new Map<string, Adapter>();
  return (name) => {
    let adapter = timed.get(name);
    if (!adapter) {
      adapter = decorateAdapter(factory(name), (operation, call) => async (...args) => {
        const end = metrics.storeLatency.startTimer({ backend, operation });
        try {
          const result = await call(...args);
          end({ outcome: 'ok' });
          return result;
        } catch (error) {
          end({ outcome: 'error' });
          throw error;
        }
      });
      timed.set(name, adapter);
    }
    return adapter;
  };
}
