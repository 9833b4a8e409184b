import type { Adapter, AdapterFactory } from 'oidc-provider';
import type { AuthMetrics } from './registry.ts';

const OPERATIONS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId', 'createIfAbsent'] as const;

/** Every adapter call timed into the store latency histogram; what it returns or throws is unchanged. */
export function timedAdapters(factory: AdapterFactory, backend: string, metrics: AuthMetrics): AdapterFactory {
  const timed = new Map<string, Adapter>();
  return (name) => {
    let adapter = timed.get(name);
    if (!adapter) {
      const inner = factory(name);
      adapter = Object.create(inner) as Adapter;
      for (const operation of OPERATIONS) {
        const original = (inner as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>)[operation]?.bind(inner);
        if (!original) continue;
        (adapter as unknown as Record<string, unknown>)[operation] = async (...args: unknown[]) => {
          const end = metrics.storeLatency.startTimer({ backend, operation });
          try {
            const result = await original(...args);
            end({ outcome: 'ok' });
            return result;
          } catch (error) {
            end({ outcome: 'error' });
            throw error;
          }
        };
      }
      timed.set(name, adapter);
    }
    return adapter;
  };
}
