/**
 * DPoP (RFC 9449 §5) for the JWT bearer grant, against the real stack: a workload (its
 * service-account token signed by a stand-in for the Kubernetes API server's token issuer)
 * and an enterprise user (an ID-JAG from dev-idp) that send a DPoP proof with the jwt-bearer
 * request get a token bound to the proof's key, which the MCP server accepts only with proofs
 * of that key. The proof is checked as at the other grants: nonces when the server has a
 * secret (and a use_dpop_nonce answer does not use the assertion up), a replayed proof
 * refused, and a resource that requires DPoP refused without one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAssertionIssuer, type AssertionIssuer } from '../../test-support/assertion-issuer.ts';
import { DpopKey, dpopTokenRequest } from '../../test-support/dpop.ts';
import { JWT_BEARER, requestIdJag, signInAtIdp } from '../../test-support/enterprise-sign-in.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

const WORKLOAD = 'reporting-workload';
const STRICT_WORKLOAD = 'strict-workload';
const SUBJECT = 'system:serviceaccount:mcp:reporter';
const ENTERPRISE = { id: 'mcp-enterprise-client', secret: 'enterprise-client-secret-0123456789' };

let stack: Stack;
let kubernetesApiServer: AssertionIssuer;
let dpopRequiredResource: string;

beforeAll(async () => {
  kubernetesApiServer = await startAssertionIssuer();
  const issuer = { issuer: kubernetesApiServer.issuer, jwks_uri: kubernetesApiServer.jwksUri, subjects: [SUBJECT], scopes: ['mcp:tools'] };
  stack = await startStack({
    authServerStorage: 'memory',
    tokenExchange: true,
    extraResourcePaths: ['/dpop-only-mcp'],
    extraResourceDpop: 'required',
    authServerEnv: { DPOP_NONCE_SECRET: randomBytes(32).toString('base64url') },
    extraClients: [
      { client_id: WORKLOAD, token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER] },
      { client_id: STRICT_WORKLOAD, token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER] },
      { client_id: ENTERPRISE.id, client_secret: ENTERPRISE.secret, grant_types: [JWT_BEARER] },
    ],
    enterpriseClients: { 'mcp-client-enterprise': ENTERPRISE.id },
    workloadIssuers: [
      { ...issuer, client_id: WORKLOAD },
      { ...issuer, client_id: STRICT_WORKLOAD, extra_resource_path: '/dpop-only-mcp' },
    ],
  });
  dpopRequiredResource = stack.extraResources[0]!;
});
afterAll(async () => {
  await stack?.close();
  await kubernetesApiServer?.close();
});

const serviceAccountToken = (claims: Record<string, unknown> = {}) => kubernetesApiServer.sign({ sub: SUBJECT, aud: stack.authServerIssuer, ...claims });

/** The jwt-bearer request with a proof of `key`, after the one use_dpop_nonce round trip the nonce secret asks for. */
async function redeemWithProof(params: Record<string, string>, key: DpopKey, headers: Record<string, string> = {}) {
  const first = await dpopTokenRequest(stack.authServerIssuer, { grant_type: JWT_BEARER, ...params }, key, { headers });
  if (first.status !== 400 || first.body.error !== 'use_dpop_nonce') return { first, final: first };
  const final = await dpopTokenRequest(stack.authServerIssuer, { grant_type: JWT_BEARER, ...params }, key, {
    headers,
    nonce: first.headers.get('dpop-nonce')!,
  });
  return { first, final };
}

async function mcpCall(token: string, scheme: 'DPoP' | 'Bearer', key?: DpopKey) {
  const headers: Record<string, string> = {
    authorization: `${scheme} ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
  };
  if (key) headers.dpop = await key.proof({ htm: 'POST', htu: stack.mcpUrl, accessToken: token });
  const response = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } },
    }),
  });
  await response.body?.cancel();
  return response;
}

describe('the jwt-bearer grant with a DPoP proof', () => {
  it('binds a workload token to the proof key; the MCP server takes it only with proofs of that key', async () => {
    const key = await DpopKey.generate();
    // A jti, so that the nonce round trip shows the assertion is not used up by it.
    const assertion = await serviceAccountToken({ jti: randomUUID() });
    const { first, final } = await redeemWithProof({ assertion, client_id: WORKLOAD }, key);
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    expect(final.status).toBe(200);
    expect(final.body.token_type).toBe('DPoP');
    const token = final.body.access_token as string;
    expect(decodeJwt(token).cnf).toEqual({ jkt: key.thumbprint });

    expect((await mcpCall(token, 'DPoP', key)).status).toBe(200);
    const asBearer = await mcpCall(token, 'Bearer');
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const otherKey = await mcpCall(token, 'DPoP', await DpopKey.generate());
    expect(otherKey.status).toBe(401);
    expect(otherKey.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
  });

  it('binds an enterprise user’s token (ID-JAG) to the proof key', async () => {
    const idToken = await signInAtIdp(stack.idpIssuer, 'mcp-client-enterprise', DEMO_USERS.alice);
    const jag = await requestIdJag(stack.idpIssuer, { clientId: 'mcp-client-enterprise', idToken, audience: stack.authServerIssuer, resource: stack.mcpUrl });
    expect(jag.status).toBe(200);
    const key = await DpopKey.generate();
    const basic = `Basic ${Buffer.from(`${ENTERPRISE.id}:${ENTERPRISE.secret}`).toString('base64')}`;
    const { final } = await redeemWithProof({ assertion: jag.body.access_token as string }, key, { authorization: basic });
    expect(final.status).toBe(200);
    expect(final.body.token_type).toBe('DPoP');
    expect(decodeJwt(final.body.access_token as string)).toMatchObject({ cnf: { jkt: key.thumbprint }, email: 'alice@example.com' });
  });

  it('refuses a bad proof with invalid_dpop_proof before looking at the assertion', async () => {
    const key = await DpopKey.generate();
    const response = await dpopTokenRequest(
      stack.authServerIssuer,
      { grant_type: JWT_BEARER, assertion: await serviceAccountToken(), client_id: WORKLOAD },
      undefined,
      {
        headers: { dpop: await key.proof({ htm: 'POST', htu: `${stack.authServerIssuer}/elsewhere` }) },
      },
    );
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: 'invalid_dpop_proof', error_description: 'DPoP proof htu mismatch' });
  });

  it('refuses a proof presented twice', async () => {
    const key = await DpopKey.generate();
    const nonce = (
      await dpopTokenRequest(stack.authServerIssuer, { grant_type: JWT_BEARER, assertion: await serviceAccountToken(), client_id: WORKLOAD }, key)
    ).headers.get('dpop-nonce')!;
    const proof = await key.proof({ htm: 'POST', htu: `${stack.authServerIssuer}/token`, nonce });
    const send = async () =>
      dpopTokenRequest(stack.authServerIssuer, { grant_type: JWT_BEARER, assertion: await serviceAccountToken(), client_id: WORKLOAD }, undefined, {
        headers: { dpop: proof },
      });
    expect((await send()).status).toBe(200);
    expect((await send()).body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  });

  it('refuses a replayed proof without using up the assertion it came with', async () => {
    const key = await DpopKey.generate();
    const first = await redeemWithProof({ assertion: await serviceAccountToken({ jti: randomUUID() }), client_id: WORKLOAD }, key);
    expect(first.final.status).toBe(200);
    const nonce = first.final.headers.get('dpop-nonce') ?? first.first.headers.get('dpop-nonce')!;
    const proof = await key.proof({ htm: 'POST', htu: `${stack.authServerIssuer}/token`, nonce });
    const params = { grant_type: JWT_BEARER, client_id: WORKLOAD };
    expect(
      (await dpopTokenRequest(stack.authServerIssuer, { ...params, assertion: await serviceAccountToken() }, undefined, { headers: { dpop: proof } })).status,
    ).toBe(200);
    // The same proof again, with an assertion that has a jti: refused, and the assertion still good.
    const assertion = await serviceAccountToken({ jti: randomUUID() });
    const replayed = await dpopTokenRequest(stack.authServerIssuer, { ...params, assertion }, undefined, { headers: { dpop: proof } });
    expect(replayed.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    expect((await redeemWithProof({ assertion, client_id: WORKLOAD }, key)).final.status).toBe(200);
  });

  it('issues a token for a resource that requires DPoP only with a proof', async () => {
    const without = await dpopTokenRequest(
      stack.authServerIssuer,
      { grant_type: JWT_BEARER, assertion: await serviceAccountToken(), client_id: STRICT_WORKLOAD },
      undefined,
    );
    expect(without.status).toBe(400);
    expect(without.body).toEqual({
      error: 'invalid_dpop_proof',
      error_description: `${dpopRequiredResource} accepts only DPoP-bound access tokens: send a DPoP proof (RFC 9449) with the token request`,
    });
    const key = await DpopKey.generate();
    const { final } = await redeemWithProof({ assertion: await serviceAccountToken(), client_id: STRICT_WORKLOAD }, key);
    expect(final.status).toBe(200);
    expect(decodeJwt(final.body.access_token as string)).toMatchObject({ aud: dpopRequiredResource, cnf: { jkt: key.thumbprint } });
  });
});
