import type { Adapter } from 'oidc-provider';

// createIfAbsent is this project's own (replay-detection.ts), beside oidc-provider's methods.
const METHODS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId', 'createIfAbsent'] as const;

export type AdapterMethod = (typeof METHODS)[number];
type Call = (...args: unknown[]) => Promise<unknown>;

/**
 * A new adapter whose every method calls `adapter`'s through `wrap`. The calls are bound to
 * `adapter` itself: the adapter classes keep their state in private fields, which a method
 * called on another object (a prototype-chained wrapper) cannot reach.
 */
export function decorateAdapter(adapter: Adapter, wrap: (method: AdapterMethod, call: Call) => Call): Adapter {
  const decorated: Record<string, Call> = {};
  for (const method of METHODS) {
    const original = (adapter as unknown as Record<AdapterMethod, Call | undefined>)[method]?.bind(adapter);
    if (original) decorated[method] = wrap(method, original);
  }
  return decorated as unknown as Adapter;
}
