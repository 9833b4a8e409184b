import { afterEach, describe, expect, it } from 'vitest';
import { startCallbackServer } from '../src/flow/authorize.ts';
import type { CallbackServer } from '../src/flow/authorize.ts';

const ISSUER = 'http://127.0.0.1:4000';
const EVIL = 'EVIL-TEXT-FROM-AN-ATTACKER';

let callback: CallbackServer | undefined;
afterEach(async () => {
  await callback?.close();
  callback = undefined;
});

async function start(overrides: { issParameterSupported?: boolean; timeoutMs?: number } = {}): Promise<CallbackServer> {
  callback = await startCallbackServer({
    state: 'the-state',
    expectedIssuer: ISSUER,
    issParameterSupported: overrides.issParameterSupported ?? true,
    timeoutMs: overrides.timeoutMs ?? 10_000,
  });
  return callback;
}

async function hit(cb: CallbackServer, params: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(cb.redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe('the loopback callback (RFC 8252) validates before it acts', () => {
  it('listens on 127.0.0.1, an ephemeral port, path /callback', async () => {
    const cb = await start();
    expect(cb.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(cb.port).toBeGreaterThan(0);
  });

  it('accepts the right state and iss, and shows a "close this tab" page', async () => {
    const cb = await start();
    const page = await hit(cb, { code: 'abc', state: 'the-state', iss: ISSUER });
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/close this tab/i);
    await expect(cb.result).resolves.toEqual({ code: 'abc', iss: ISSUER });
  });

  it('rejects a wrong state', async () => {
    const cb = await start();
    const page = await hit(cb, { code: 'abc', state: 'other', iss: ISSUER });
    expect(page.status).toBe(400);
    await expect(cb.result).rejects.toMatchObject({ code: 'state_mismatch' });
  });

  it("rejects a wrong iss and neither shows nor reports the response's error text", async () => {
    const cb = await start();
    const page = await hit(cb, {
      error: 'access_denied',
      error_description: EVIL,
      error_uri: `https://x/${EVIL}`,
      state: 'the-state',
      iss: 'https://evil.example',
    });
    expect(page.status).toBe(400);
    expect(page.body).not.toContain(EVIL);
    const error = (await cb.result.then(
      () => new Error('resolved'),
      (e: unknown) => e,
    )) as Error & { code: string; hint?: string };
    expect(error).toMatchObject({ code: 'issuer_mismatch' });
    expect(`${error.message} ${error.hint}`).not.toContain(EVIL);
    expect(error.message).not.toContain('access_denied');
  });

  it('rejects a missing iss when the AS advertises authorization_response_iss_parameter_supported', async () => {
    const cb = await start({ issParameterSupported: true });
    await hit(cb, { code: 'abc', state: 'the-state' });
    await expect(cb.result).rejects.toMatchObject({ code: 'issuer_mismatch' });
  });

  it('proceeds without iss when the AS does not advertise it, but still checks a present one', async () => {
    let cb = await start({ issParameterSupported: false });
    await hit(cb, { code: 'abc', state: 'the-state' });
    await expect(cb.result).resolves.toEqual({ code: 'abc', iss: undefined });
    await cb.close();
    cb = await start({ issParameterSupported: false });
    await hit(cb, { code: 'abc', state: 'the-state', iss: `${ISSUER}/` });
    await expect(cb.result).rejects.toMatchObject({ code: 'issuer_mismatch' });
  });

  it('reports a verified access_denied as the user declining', async () => {
    const cb = await start();
    const page = await hit(cb, { error: 'access_denied', state: 'the-state', iss: ISSUER });
    expect(page.status).toBe(400);
    await expect(cb.result).rejects.toMatchObject({ code: 'access_denied', hint: expect.stringContaining('login again') });
  });

  it('ignores other paths, and times out when nothing comes', async () => {
    const cb = await start({ timeoutMs: 300 });
    const other = await fetch(new URL('/favicon.ico', cb.redirectUri));
    expect(other.status).toBe(404);
    await expect(cb.result).rejects.toMatchObject({ code: 'timeout', hint: expect.stringContaining('--timeout') });
  });

  it('settles once: a second callback does not override the first', async () => {
    const cb = await start();
    await hit(cb, { code: 'first', state: 'the-state', iss: ISSUER });
    // The server stops listening once settled; a late request is refused or answered 410.
    const second = await hit(cb, { code: 'second', state: 'the-state', iss: ISSUER }).catch(() => ({ status: 0, body: '' }));
    expect([0, 410]).toContain(second.status);
    await expect(cb.result).resolves.toMatchObject({ code: 'first' });
  });
});
