import type { Account, Adapter, FindAccount } from 'oidc-provider';

/** What the auth server knows of a user: only what the upstream IdP's ID token said. */
export interface AccountProfile {
  sub: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  /**
   * For an account an enterprise IdP's ID-JAG created (jwt-bearer/enterprise-accounts.ts), when
   * that IdP is not the upstream IdP: who vouched for it, by its `iss` and `sub`.
   */
  assertedBy?: { issuer: string; subject: string } | undefined;
}

/**
 * Accounts kept with the rest of the state (memory or Redis) through the same adapter
 * interface, under the model name `Account`; created on first login, refreshed on each.
 */
export class AccountStore {
  readonly #adapter: Adapter;

  constructor(adapter: Adapter) {
    this.#adapter = adapter;
  }

  async get(accountId: string): Promise<AccountProfile | undefined> {
    const stored = (await this.#adapter.find(accountId)) as { profile?: AccountProfile } | undefined;
    return stored?.profile;
  }

  async upsert(profile: AccountProfile): Promise<void> {
    await this.#adapter.upsert(profile.sub, { profile });
  }
}

/** The oidc-provider `findAccount` hook over the AccountStore. */
export function findAccountIn(store: AccountStore): FindAccount {
  return async (_ctx, accountId): Promise<Account | undefined> => {
    const profile = await store.get(accountId);
    if (!profile) return undefined;
    return {
      accountId,
      async claims() {
        return { sub: accountId, email: profile.email, email_verified: profile.emailVerified, name: profile.name };
      },
    };
  };
}
