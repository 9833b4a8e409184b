// The static password database: Dex's staticPasswords, looked up and checked like Dex does.

import bcrypt from 'bcryptjs';
import type { DexStaticPassword } from './dex-config.ts';

// Compared against when the login names no user, so that an unknown email costs the same
// time as a wrong password (no user enumeration by timing). A hash of random text.
const DUMMY_HASH = '$2a$10$CwTycUXWue0Thq9StjUM0uJ8.l7fA1Ue8YJ0nbkiSkyM1vWuHGhJi';

export type UserClaims = {
  sub: string;
  email: string;
  email_verified: true;
  name: string;
  preferred_username: string;
};

export class StaticUsers {
  readonly #byEmail: Map<string, DexStaticPassword>;
  readonly #byId: Map<string, DexStaticPassword>;

  constructor(users: readonly DexStaticPassword[]) {
    this.#byEmail = new Map(users.map((u) => [u.email.toLowerCase(), u]));
    this.#byId = new Map(users.map((u) => [u.userID, u]));
  }

  /** The user whose email (case-insensitive, as Dex) and password match, else undefined. */
  async authenticate(login: string, password: string): Promise<DexStaticPassword | undefined> {
    const user = this.#byEmail.get(login.trim().toLowerCase());
    const ok = await bcrypt.compare(password, user?.hash ?? DUMMY_HASH);
    return ok && user ? user : undefined;
  }

  byId(userID: string): DexStaticPassword | undefined {
    return this.#byId.get(userID);
  }

  /** What Dex puts in tokens for a static password user. */
  static claimsOf(user: DexStaticPassword): UserClaims {
    return {
      sub: user.userID,
      email: user.email,
      email_verified: true,
      name: user.username,
      preferred_username: user.username,
    };
  }
}
