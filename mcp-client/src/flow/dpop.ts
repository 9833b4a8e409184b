/**
 * DPoP (RFC 9449): one key pair per authorization server, kept in that AS's 0600 store file,
 * and the SDK's DpopSession around it — proofs on every token request (code exchange,
 * refresh, client_credentials) and on every MCP request with a DPoP-bound token, with the
 * nonce retry (`use_dpop_nonce`) the SDK does for both.
 *
 * Used when the AS advertises `dpop_signing_alg_values_supported` with an algorithm the SDK
 * signs and the MCP server says it takes DPoP (its RFC 9728 metadata lists
 * `dpop_signing_alg_values_supported`, or its 401 carries a DPoP challenge), unless the user
 * said `--no-dpop`. Both, because a DPoP-bound token is refused by a server that only knows
 * Bearer (RFC 9449 §7.1), and many authorization servers (oidc-provider's default) offer
 * DPoP in front of resource servers that do not. The private key is never printed; the trace
 * shows its thumbprint (the tokens' `cnf.jkt`).
 */
import { DPOP_SUPPORTED_ALGS, DpopSession, generateDpopKeyPair } from '@modelcontextprotocol/client';
import type { DpopAlg, DpopKeyPair } from '@modelcontextprotocol/client';
import { calculateJwkThumbprint, exportJWK, importJWK } from 'jose';
import type { JWK } from 'jose';
import type { Store, StoredDpopKey } from '../store.ts';
import type { Trace } from '../trace.ts';
import type { Discovery } from './discovery.ts';

/** Preferred when offered: small proofs, fast to sign, what every DPoP server takes. */
const PREFERRED_ALG: DpopAlg = 'ES256';

/** The JWK members that make a key private (RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

function isDpopAlg(alg: string): alg is DpopAlg {
  return (DPOP_SUPPORTED_ALGS as readonly string[]).includes(alg);
}

function algList(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((alg): alg is string => typeof alg === 'string') : undefined;
}

/**
 * The algorithm to sign proofs with: one the AS advertises (and the resource too, where its
 * metadata lists some), or undefined when there is none we sign.
 */
export function chooseDpopAlg(asAlgs: unknown, resourceAlgs?: unknown): DpopAlg | undefined {
  const resource = algList(resourceAlgs);
  const offered = (algList(asAlgs) ?? []).filter(isDpopAlg).filter((alg) => !resource?.length || resource.includes(alg));
  return offered.includes(PREFERRED_ALG) ? PREFERRED_ALG : offered[0];
}

/** Whether the MCP server says it takes DPoP: in its protected resource metadata, or by a DPoP challenge. */
export function resourceTakesDpop(d: Pick<Discovery, 'prm' | 'challenge'>): boolean {
  if (algList(d.prm?.metadata.dpop_signing_alg_values_supported)?.length) return true;
  return /(?:^|,)\s*dpop(?:\s|$|,)/i.test(d.challenge.header ?? '');
}

export function isDpopTokenType(tokenType: string | undefined): boolean {
  return tokenType?.toLowerCase() === 'dpop';
}

async function keyPairFrom(stored: StoredDpopKey): Promise<DpopKeyPair | undefined> {
  if (!isDpopAlg(stored.alg)) return undefined;
  try {
    const privateJwk = stored.private_jwk as JWK;
    const publicJwk: JWK = { ...privateJwk };
    for (const member of PRIVATE_MEMBERS) delete publicJwk[member];
    delete publicJwk.key_ops;
    delete publicJwk.ext;
    const privateKey = await importJWK(privateJwk, stored.alg);
    const publicKey = await importJWK(publicJwk, stored.alg);
    if (privateKey instanceof Uint8Array || publicKey instanceof Uint8Array) return undefined;
    const thumbprint = await calculateJwkThumbprint(publicJwk, 'sha256');
    if (thumbprint !== stored.thumbprint) return undefined;
    return { privateKey, publicKey, publicJwk, thumbprint, alg: stored.alg };
  } catch {
    return undefined; // unreadable key: a new one is made (tokens bound to the old one are then refused and renewed)
  }
}

/**
 * The DPoP sessions of one CLI run, one per authorization server: the same key (from the
 * store) and the nonces the AS and the resource servers handed out during this run.
 */
export class DpopKeys {
  private readonly sessions = new Map<string, Promise<DpopSession | undefined>>();
  private readonly store: Store;
  private readonly trace: Trace;
  /** --no-dpop */
  private readonly disabled: boolean;

  constructor(store: Store, trace: Trace, disabled = false) {
    this.store = store;
    this.trace = trace;
    this.disabled = disabled;
  }

  /**
   * The session for a new token from `issuer` for the discovered resource: its stored key, or
   * a new one, when both advertise DPoP; undefined otherwise (or with --no-dpop) — Bearer then.
   */
  forTokenRequest(issuer: string, asAlgs: unknown, d: Pick<Discovery, 'prm' | 'challenge'>): Promise<DpopSession | undefined> {
    if (this.disabled) return Promise.resolve(undefined);
    const alg = chooseDpopAlg(asAlgs, d.prm?.metadata.dpop_signing_alg_values_supported);
    if (!alg) return Promise.resolve(undefined);
    if (!resourceTakesDpop(d)) {
      this.trace.note(`${issuer} offers DPoP, but the MCP server does not say it takes DPoP tokens: asking for a Bearer token`);
      return Promise.resolve(undefined);
    }
    return this.session(issuer, alg);
  }

  /** The session for presenting a DPoP-bound token from `issuer`: only its stored key can. */
  forToken(issuer: string, tokenType: string | undefined): Promise<DpopSession | undefined> {
    if (!isDpopTokenType(tokenType)) return Promise.resolve(undefined);
    return this.session(issuer, undefined);
  }

  private session(issuer: string, alg: DpopAlg | undefined): Promise<DpopSession | undefined> {
    let session = this.sessions.get(issuer);
    if (!session) {
      session = this.load(issuer, alg);
      this.sessions.set(issuer, session);
      // A failed load is not remembered: the next request tries again.
      session.catch(() => this.sessions.delete(issuer));
    }
    return session;
  }

  private async load(issuer: string, alg: DpopAlg | undefined): Promise<DpopSession | undefined> {
    const stored = (await this.store.read(issuer)).dpop_key;
    const keyPair = stored ? await keyPairFrom(stored) : undefined;
    if (keyPair && (alg === undefined || keyPair.alg === alg)) {
      this.trace.step(
        'dpop_key',
        { issuer, alg: keyPair.alg, jkt: keyPair.thumbprint, created: false },
        `${keyPair.alg} key, thumbprint ${keyPair.thumbprint} (stored)`,
      );
      return DpopSession.create({ keyPair });
    }
    if (alg === undefined) return undefined; // a DPoP-bound token whose key is gone: it cannot be used
    // Extractable only so that it can be written to the 0600 store file: a CLI run is a short
    // process, and a key that died with it would make every refresh token useless.
    const fresh = await generateDpopKeyPair({ alg, extractable: true });
    await this.store.saveDpopKey(issuer, {
      alg,
      private_jwk: { ...(await exportJWK(fresh.privateKey)) },
      thumbprint: fresh.thumbprint,
      created_at: new Date().toISOString(),
    });
    const file = this.store.pathFor(issuer);
    this.trace.step(
      'dpop_key',
      { issuer, alg, jkt: fresh.thumbprint, created: true, file },
      `new ${alg} key, thumbprint ${fresh.thumbprint} (private key in ${file})`,
    );
    return DpopSession.create({ keyPair: fresh });
  }
}
