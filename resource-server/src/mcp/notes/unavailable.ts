import { NotesLimitError, NotesUnavailableError, type NotesStore } from './store.ts';

/**
 * A store whose failures reach the user as one sentence they can act on, not as the
 * driver's message (ioredis: "Reached the max retries per request limit…"). The limit is a
 * decision of the store, not a failure, and passes through.
 */
export function withUnavailableAsError(store: NotesStore): NotesStore {
  const guard =
    <A extends unknown[], R>(operation: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await operation(...args);
      } catch (error) {
        throw error instanceof NotesLimitError ? error : new NotesUnavailableError({ cause: error });
      }
    };
  return {
    kind: store.kind,
    list: guard((owner) => store.list(owner)),
    add: guard((owner, text) => store.add(owner, text)),
    remove: guard((owner, id) => store.remove(owner, id)),
    readiness: () => store.readiness(),
    close: () => store.close(),
  };
}
