import { Writable } from 'node:stream';
import * as client from 'openid-client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_WARNING } from '../src/server.ts';
import { atRedirectUri, CLIENT_SECRET, relyingParty, startLogin, startTestIdp } from './helpers.ts';

describe('logging', () => {
  it('warns that it is a development IdP, and logs no password, code, token, cookie or secret', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const idp = await startTestIdp({ logger: pino({ level: 'trace' }, sink) });
    try {
      const config = await relyingParty(idp);
      const wrong = 'typo-password-987';

      const first = await startLogin(config, 'openid email profile offline_access');
      const refused = await first.browser.submitForm(first.loginPage, {
        fields: { login: 'alice@example.com', password: wrong },
      });
      const callback = await first.browser.submitForm(refused, {
        fields: { login: 'alice@example.com', password: 'password' },
        stopAt: atRedirectUri,
      });
      const callbackUrl = new URL(callback.stoppedAt as string);
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: first.verifier,
        expectedState: first.state,
        expectedNonce: first.nonce,
      });
      // A refused token request (code replay) is logged too.
      await expect(
        client.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: first.verifier,
          expectedState: first.state,
          expectedNonce: first.nonce,
        }),
      ).rejects.toThrow();

      const log = lines.join('\n');
      expect(lines.map((l) => JSON.parse(l) as { level: number; msg: string })).toContainEqual(
        expect.objectContaining({ level: 40, msg: DEVELOPMENT_WARNING }),
      );
      expect(log).toContain('login refused');
      expect(log).toContain('tokens issued');
      expect(log).toContain('invalid_grant');

      const cookies = (await first.browser.jar.getCookies(idp.url + '/dex/auth')).map((c) => c.value);
      const secrets = [
        CLIENT_SECRET,
        wrong,
        '"password"',
        callbackUrl.searchParams.get('code') as string,
        tokens.access_token,
        tokens.id_token as string,
        tokens.refresh_token as string,
        first.verifier,
        ...cookies,
      ];
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(5);
        expect(log).not.toContain(secret);
      }
    } finally {
      await idp.close();
    }
  });
});
