import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevIdp } from '../src/server.ts';
import { atRedirectUri, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, relyingParty, startLogin, startTestIdp } from './helpers.ts';

// The users of dex/config.yaml, as Dex would put them in an ID token.
const users = [
  { email: 'alice@example.com', name: 'alice', sub: '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11', auth: 'client_secret_basic' },
  { email: 'bob@example.com', name: 'bob', sub: '7c9e6679-7425-40de-944b-e07fc1f90ae7', auth: 'client_secret_post' },
] as const;

describe('authorization code + PKCE login of the static users', () => {
  let idp: DevIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(() => idp?.close());

  it.each(users)('logs in $email and issues an ID token with her/his claims ($auth)', async (user) => {
    const config = await relyingParty(
      idp,
      user.auth === 'client_secret_post' ? client.ClientSecretPost(CLIENT_SECRET) : client.ClientSecretBasic(CLIENT_SECRET),
    );
    const { browser, loginPage, verifier, state, nonce } = await startLogin(config);
    expect(loginPage.status).toBe(200);
    expect(loginPage.url.startsWith(`${idp.issuer}/interaction/`)).toBe(true);

    const callback = await browser.submitForm(loginPage, {
      fields: { login: user.email, password: 'password' },
      stopAt: atRedirectUri,
    });
    expect(callback.stoppedAt).toBeDefined();
    const callbackUrl = new URL(callback.stoppedAt as string);
    expect(callbackUrl.origin + callbackUrl.pathname).toBe(REDIRECT_URI);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();

    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: CLIENT_ID,
      sub: user.sub,
      email: user.email,
      email_verified: true,
      name: user.name,
      preferred_username: user.name,
    });

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, user.sub);
    expect(userinfo).toMatchObject({ sub: user.sub, email: user.email, name: user.name });
  });

  it('refuses the code without the PKCE verifier', async () => {
    const config = await relyingParty(idp);
    const { browser, loginPage, state } = await startLogin(config);
    const callback = await browser.submitForm(loginPage, {
      fields: { login: 'alice@example.com', password: 'password' },
      stopAt: atRedirectUri,
    });
    const wrongVerifier = client.randomPKCECodeVerifier();
    await expect(
      client.authorizationCodeGrant(config, new URL(callback.stoppedAt as string), {
        pkceCodeVerifier: wrongVerifier,
        expectedState: state,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('issues a refresh token for offline_access, and it refreshes', async () => {
    const config = await relyingParty(idp);
    const { browser, loginPage, verifier, state, nonce } = await startLogin(config, 'openid email profile offline_access');
    const callback = await browser.submitForm(loginPage, {
      fields: { login: 'alice@example.com', password: 'password' },
      stopAt: atRedirectUri,
    });
    const tokens = await client.authorizationCodeGrant(config, new URL(callback.stoppedAt as string), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.claims()?.sub).toBe('0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11');
  });
});
