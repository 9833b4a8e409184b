import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import type { DevIdp } from '../src/server.ts';
import { CLIENT_ID, REDIRECT_URI, startTestIdp } from './helpers.ts';

describe('authorization requests from unknown clients or to unregistered redirect URIs', () => {
  let idp: DevIdp;
  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(() => idp?.close());

  async function authorize(params: Record<string, string>) {
    const url = new URL(`${idp.issuer}/auth`);
    const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
    url.search = new URLSearchParams({
      response_type: 'code',
      scope: 'openid email',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'xyz',
      ...params,
    }).toString();
    const redirectedTo: string[] = [];
    const page = await new ScriptedBrowser().open(url, {
      // Record any redirect off the IdP: there must be none.
      stopAt: (u) => {
        const off = !u.startsWith(idp.url);
        if (off) redirectedTo.push(u);
        return off;
      },
    });
    return { page, redirectedTo };
  }

  it('refuses an unknown client_id with invalid_client, on its own page', async () => {
    const { page, redirectedTo } = await authorize({ client_id: 'no-such-client', redirect_uri: REDIRECT_URI });
    expect(redirectedTo).toEqual([]);
    expect(page.status).toBe(400);
    expect(page.$('.oauth-error').text()).toBe('invalid_client');
    expect(page.forms).toHaveLength(0);
  });

  it('refuses a redirect_uri the client did not register, without redirecting to it', async () => {
    const evil = 'http://127.0.0.1:1/evil/callback';
    const { page, redirectedTo } = await authorize({ client_id: CLIENT_ID, redirect_uri: evil });
    expect(redirectedTo).toEqual([]);
    expect(page.status).toBe(400);
    expect(page.$('.oauth-error').text()).toBe('invalid_redirect_uri');
    expect(page.text()).toContain("redirect_uri did not match any of the client's registered redirect_uris");
  });

  it('refuses the Dex config redirect URI when a test replaced it', async () => {
    const { page } = await authorize({ client_id: CLIENT_ID, redirect_uri: 'http://localhost:4000/upstream/callback' });
    expect(page.status).toBe(400);
    expect(page.$('.oauth-error').text()).toBe('invalid_redirect_uri');
  });
});
