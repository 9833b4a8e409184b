import { hash } from 'node:crypto';
import type { AccountStore } from '../accounts.ts';
import type { IdJag } from './id-jag.ts';

/**
 * The account an ID-JAG speaks for, found or created from its issuer and subject — never
 * from its email, which another IdP (or another user of the same one, over time) may assert
 * too. An IdP's `sub` is unique only within that IdP (OIDC Core §2), so the account id is
 * the pair: the bare `sub` for the upstream IdP (whose logins key accounts by `sub` already —
 * the same person signing in there and through an ID-JAG of the same issuer is one account),
 * and a hash of issuer and `sub` for any other IdP, so no IdP can name another's users.
 * The profile (email, name) is refreshed from the ID-JAG, as a login refreshes it from the ID token.
 */
export class EnterpriseAccounts {
  readonly #accounts: AccountStore;
  readonly #upstreamIssuer: string;

  constructor(accounts: AccountStore, upstreamIssuer: string) {
    this.#accounts = accounts;
    this.#upstreamIssuer = upstreamIssuer;
  }

  accountId(issuer: string, subject: string): string {
    if (issuer === this.#upstreamIssuer) return subject;
    return `idp-${hash('sha256', `${issuer}\n${subject}`, 'base64url').slice(0, 32)}`;
  }

  async accountFor(jag: IdJag): Promise<string> {
    const sub = this.accountId(jag.issuer, jag.subject);
    const existing = await this.#accounts.get(sub);
    await this.#accounts.upsert({
      ...existing,
      sub,
      ...(jag.email ? { email: jag.email, emailVerified: jag.emailVerified } : {}),
      ...(jag.name ? { name: jag.name } : {}),
      ...(jag.issuer === this.#upstreamIssuer ? {} : { assertedBy: { issuer: jag.issuer, subject: jag.subject } }),
    });
    return sub;
  }
}
