import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { AssertionIssuers, EnterpriseIdpEntry, WorkloadIssuerEntry } from '../registry.ts';

/**
 * The issuers whose assertions the JWT bearer grant accepts, each with its key set. The key
 * sets are fetched from the operator's `jwks_uri` (registry.ts), not from any URL a client
 * names, so they go straight to the network with Node's fetch — the guard on client-chosen
 * URLs (policies/outbound-fetch.ts) is for URLs anyone can make this server fetch. One remote
 * set per URL, cached by jose: an unknown `kid` refetches at most once per cooldown, so a
 * flood of forged assertions cannot hammer an IdP; a rotated key is picked up without restart.
 */

export interface EnterpriseIdp extends EnterpriseIdpEntry {
  keys: JWTVerifyGetKey;
}

export interface WorkloadIssuer extends WorkloadIssuerEntry {
  keys: JWTVerifyGetKey;
}

const KEY_SET_OPTIONS = { timeoutDuration: 5_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 };

export class TrustedIssuers {
  readonly #enterprise = new Map<string, EnterpriseIdp>();
  readonly #workloads = new Map<string, WorkloadIssuer[]>();

  constructor({ enterpriseIdps, workloadIssuers }: AssertionIssuers) {
    const keySets = new Map<string, JWTVerifyGetKey>();
    const keysAt = (url: string) => keySets.get(url) ?? keySets.set(url, createRemoteJWKSet(new URL(url), KEY_SET_OPTIONS)).get(url)!;
    for (const idp of enterpriseIdps) this.#enterprise.set(idp.issuer, { ...idp, keys: keysAt(idp.jwksUri) });
    for (const entry of workloadIssuers) {
      const entries = this.#workloads.get(entry.issuer) ?? [];
      entries.push({ ...entry, keys: keysAt(entry.jwksUri) });
      this.#workloads.set(entry.issuer, entries);
    }
  }

  /** The enterprise IdP whose ID-JAGs carry `iss` = `issuer`, if trusted. */
  enterpriseIdp(issuer: string): EnterpriseIdp | undefined {
    return this.#enterprise.get(issuer);
  }

  /** The workload mappings of `issuer`: one per machine client its workloads act as. */
  workloadIssuers(issuer: string): readonly WorkloadIssuer[] {
    return this.#workloads.get(issuer) ?? [];
  }
}
