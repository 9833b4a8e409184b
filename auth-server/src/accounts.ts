import type { Account, FindAccount } from 'oidc-provider';

/** What the auth server knows of a user: only what the upstream IdP's ID token said. */
export interface AccountProfile {
  sub: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
}

export interface AccountStore {
  get(accountId: string): Promise<AccountProfile | undefined>;
  /** Creates the account on first login, refreshes its claims on every later one. */
  upsert(profile: AccountProfile): Promise<void>;
}

/** Process-local accounts; lost on restart (the Redis-backed store keeps them). */
export class MemoryAccountStore implements AccountStore {
  readonly #accounts = new Map<string, AccountProfile>();

  async get(accountId: string) {
    return this.#accounts.get(accountId);
  }

  async upsert(profile: AccountProfile) {
    this.#accounts.set(profile.sub, { ...profile });
  }
}

/** The oidc-provider `findAccount` hook over an AccountStore. */
export function findAccountIn(store: AccountStore): FindAccount {
  return async (_ctx, accountId): Promise<Account | undefined> => {
    const profile = await store.get(accountId);
    if (!profile) return undefined;
    return {
      accountId,
      async claims() {
        return {
          sub: accountId,
          email: profile.email,
          email_verified: profile.emailVerified,
          name: profile.name,
        };
      },
    };
  };
}
