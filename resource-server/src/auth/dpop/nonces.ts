import { hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Server-provided DPoP nonces (RFC 9449 §9) without state: the nonce of a time step is
 * derived from the secret (HKDF-SHA256, the step as salt), so every instance sharing the
 * secret issues and accepts the same ones. The current step's nonce is handed out; it is
 * accepted during its step and the next (and one step early, for clocks a little ahead).
 */

const STEP_SECONDS = 60;

export class DpopNonces {
  readonly #secret: Buffer;
  #cached: { step: number; values: Map<number, string> } | undefined;

  constructor(secret: Buffer) {
    this.#secret = secret;
  }

  #valueFor(step: number): string {
    const salt = Buffer.alloc(8);
    salt.writeBigInt64BE(BigInt(step));
    return Buffer.from(hkdfSync('sha256', this.#secret, salt, 'mcp-resource-server DPoP nonce', 32)).toString('base64url');
  }

  #window(): Map<number, string> {
    const step = Math.floor(Date.now() / 1000 / STEP_SECONDS);
    if (this.#cached?.step !== step) this.#cached = { step, values: new Map([step - 1, step, step + 1].map((s) => [s, this.#valueFor(s)])) };
    return this.#cached.values;
  }

  /** The nonce to hand out now. */
  current(): string {
    const step = Math.floor(Date.now() / 1000 / STEP_SECONDS);
    return this.#window().get(step)!;
  }

  accepts(nonce: string): boolean {
    const given = Buffer.from(nonce);
    let matched = false;
    for (const value of this.#window().values()) {
      const expected = Buffer.from(value);
      if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
    }
    return matched;
  }
}
