/**
 * The authorization endpoint's refusals, each with its OAuth error, and how a request's
 * `resource` and `scope` are resolved: canonical spellings match, unknown resources are
 * invalid_target, and no scope means the resource's default scopes.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationUrl, authorizeClient, pkce, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { ScriptedBrowser } from '../../test-support/scripted-browser.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

let stack: Stack;
let clientId: string;
const redirectUri = 'http://127.0.0.1:8976/callback';

beforeAll(async () => {
  stack = await startStack();
  clientId = (await registerClient(stack.authServerIssuer)).body.client_id;
});
afterAll(() => stack?.close());

/**
 * Opens an authorization URL and returns the answer meant for the client: where the AS sent
 * the browser, or — for this self-registered client, whose errors are shown rather than
 * redirected (RFC 9700 §4.11.2) — the link back that the error page offers.
 */
async function firstAnswer(params: Record<string, string | undefined>) {
  const url = authorizationUrl(stack.authServerIssuer, { client_id: clientId, redirect_uri: redirectUri, resource: stack.mcpUrl, ...params });
  const page = await new ScriptedBrowser().open(url, { stopAt: (target) => target.startsWith(redirectUri) });
  const linkBack = page.$('a').attr('href');
  return { page, callback: page.stoppedAt ? new URL(page.stoppedAt) : linkBack?.startsWith(redirectUri) ? new URL(linkBack) : undefined };
}

async function codeFlow(params: Record<string, string | undefined>) {
  const { callback, verifier } = await authorizeClient({ issuer: stack.authServerIssuer, clientId, redirectUri, user: DEMO_USERS.alice, params });
  return tokenRequest(stack.authServerIssuer, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: clientId,
  });
}

describe('refusals at the authorization endpoint', () => {
  it('requires PKCE', async () => {
    const { callback } = await firstAnswer({ scope: 'mcp:tools', state: 's1' });
    expect(callback?.searchParams.get('error')).toBe('invalid_request');
    expect(callback?.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(callback?.searchParams.get('state')).toBe('s1');
    expect(callback?.searchParams.get('iss')).toBe(stack.authServerIssuer);
  });

  it('refuses the plain PKCE method', async () => {
    const { callback } = await firstAnswer({ scope: 'mcp:tools', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    expect(callback?.searchParams.get('error')).toBe('invalid_request');
    expect(callback?.searchParams.get('error_description')).toMatch(/code_challenge_method/);
  });

  it('refuses a resource it does not serve with invalid_target', async () => {
    const { callback } = await firstAnswer({
      scope: 'mcp:tools',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      resource: 'https://evil.example/mcp',
    });
    expect(callback?.searchParams.get('error')).toBe('invalid_target');
  });

  it('never redirects to an unregistered redirect URI: shows an error page instead', async () => {
    const page = await new ScriptedBrowser().open(
      authorizationUrl(stack.authServerIssuer, {
        client_id: clientId,
        redirect_uri: 'https://attacker.example/callback',
        scope: 'mcp:tools',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      }),
      { stopAt: (target) => !target.startsWith(stack.authServerIssuer) },
    );
    expect(page.stoppedAt).toBeUndefined();
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_redirect_uri');
    expect(page.html).not.toMatch(/at \S+\.js:\d+/); // no stack trace
  });

  it('refuses an unknown client without redirecting', async () => {
    const page = await new ScriptedBrowser().open(
      authorizationUrl(stack.authServerIssuer, {
        client_id: 'no-such-client',
        redirect_uri: redirectUri,
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      }),
      { stopAt: () => true },
    );
    expect(page.stoppedAt).toBeUndefined();
    expect(page.status).toBe(400);
    expect(page.text()).toContain('invalid_client');
  });
});

describe('resource and scope resolution', () => {
  it('grants the default scopes to a request without scope (Claude sends scope=)', async () => {
    const tokens = await codeFlow({ scope: '', resource: stack.mcpUrl });
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('mcp:tools mcp:resources mcp:prompts');
    expect(decodeJwt(String(tokens.body.access_token)).scope).toBe('mcp:tools mcp:resources mcp:prompts');
  });

  it('matches another spelling of the resource but binds the token to the configured URL', async () => {
    const spelled = stack.mcpUrl.replace('http://127.0.0.1', 'HTTP://127.0.0.1') + '/';
    const tokens = await codeFlow({ scope: 'mcp:tools', resource: spelled });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(String(tokens.body.access_token)).aud).toBe(stack.mcpUrl);
  });

  it('uses the authorized resource when the token request names none', async () => {
    const tokens = await codeFlow({ scope: 'mcp:tools', resource: stack.mcpUrl });
    expect(decodeJwt(String(tokens.body.access_token)).aud).toBe(stack.mcpUrl);
  });

  it('binds a request without any resource to the one configured resource', async () => {
    const tokens = await codeFlow({ scope: 'mcp:tools' });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(String(tokens.body.access_token)).aud).toBe(stack.mcpUrl);
  });
});

describe('refusals at the token endpoint', () => {
  it('answers a malformed body with invalid_request, and an oversized one without crashing', async () => {
    const garbage = await fetch(`${stack.authServerIssuer}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: string }).error).toBe('invalid_request');

    const huge = await fetch(`${stack.authServerIssuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&code=${'x'.repeat(200_000)}`,
    });
    expect(huge.status).toBe(400);
    expect(((await huge.json()) as { error: string }).error).toBe('invalid_request');
    // and the server still answers
    expect((await fetch(`${stack.authServerIssuer}/healthz`)).status).toBe(200);
  });

  it('refuses an unsupported grant type', async () => {
    const answer = await tokenRequest(stack.authServerIssuer, { grant_type: 'password', username: 'alice', password: 'password', client_id: clientId });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('unsupported_grant_type');
  });
});
