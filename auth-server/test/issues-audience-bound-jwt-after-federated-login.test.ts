import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationUrl, authorizeClient, authorizeInBrowser, pkce, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

describe('authorization code flow with login at the upstream IdP', () => {
  it('returns code, state and iss to the client, then an ES256 at+jwt bound to the resource', async () => {
    const { status, body: client } = await registerClient(stack.authServerIssuer, { client_name: 'Flow Test' });
    expect(status).toBe(201);
    expect(client.client_secret).toBeUndefined();
    const redirectUri = client.redirect_uris[0]!;
    const { verifier, challenge } = pkce();

    const { callback, pagesSeen } = await authorizeInBrowser(
      new ScriptedBrowser(),
      authorizationUrl(stack.authServerIssuer, {
        client_id: client.client_id,
        redirect_uri: redirectUri,
        scope: 'mcp:tools mcp:resources',
        resource: stack.mcpUrl,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 'state-123',
      }),
      { redirectUri, user: DEMO_USERS.alice },
    );

    // The login form was the IdP's, the consent page ours and it named the client and scopes.
    expect(new URL(pagesSeen[0]!.url).origin).toBe(new URL(stack.idpIssuer).origin);
    const consent = pagesSeen.find((page) => page.url.startsWith(stack.authServerIssuer))!;
    expect(consent.text()).toContain('Flow Test');
    expect(consent.text()).toContain('mcp:tools');
    expect(consent.text()).toContain('mcp:resources');
    expect(consent.text()).toContain('127.0.0.1:8976');
    expect(consent.text()).toContain('alice@example.com');

    expect(callback.searchParams.get('state')).toBe('state-123');
    expect(callback.searchParams.get('iss')).toBe(stack.authServerIssuer);
    const code = callback.searchParams.get('code')!;
    expect(code).toBeTruthy();

    const tokens = await tokenRequest(stack.authServerIssuer, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: client.client_id,
      resource: stack.mcpUrl,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body.token_type).toBe('Bearer');
    expect(tokens.body.scope).toBe('mcp:tools mcp:resources');
    expect(typeof tokens.body.refresh_token).toBe('string');

    const accessToken = String(tokens.body.access_token);
    expect(decodeProtectedHeader(accessToken)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = createRemoteJWKSet(new URL(`${stack.authServerIssuer}/jwks`));
    const { payload } = await jwtVerify(accessToken, jwks, {
      issuer: stack.authServerIssuer,
      audience: stack.mcpUrl,
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({
      aud: stack.mcpUrl,
      client_id: client.client_id,
      scope: 'mcp:tools mcp:resources',
      sub: '0a1f5d8e-6c1b-4d3a-9a57-3f6f2f2f0a11',
      email: 'alice@example.com',
      name: 'alice',
    });

    // The code is single-use.
    const replay = await tokenRequest(stack.authServerIssuer, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: client.client_id,
    });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('refuses a code exchanged with the wrong PKCE verifier', async () => {
    const { body: client } = await registerClient(stack.authServerIssuer);
    const redirectUri = client.redirect_uris[0]!;
    const { callback } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId: client.client_id,
      redirectUri,
      user: DEMO_USERS.bob,
      params: { scope: 'mcp:tools', resource: stack.mcpUrl },
    });
    const tokens = await tokenRequest(stack.authServerIssuer, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: pkce().verifier,
      client_id: client.client_id,
    });
    expect(tokens.status).toBe(400);
    expect(tokens.body.error).toBe('invalid_grant');
  });

  it('sends access_denied back to the client when the user presses Deny', async () => {
    const { body: client } = await registerClient(stack.authServerIssuer);
    const redirectUri = client.redirect_uris[0]!;
    const { callback } = await authorizeClient({
      issuer: stack.authServerIssuer,
      clientId: client.client_id,
      redirectUri,
      user: DEMO_USERS.alice,
      decision: 'Deny',
      params: { scope: 'mcp:tools', resource: stack.mcpUrl, state: 'deny-state' },
    });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('deny-state');
    expect(callback.searchParams.get('code')).toBeNull();
  });
});
