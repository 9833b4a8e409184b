import type { AuthInfo } from '@modelcontextprotocol/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { headerValues } from '../http/raw-headers.ts';
import { wwwAuthenticate } from './challenge.ts';
import { refusalOf, unauthorizedChallenges } from './dpop/challenges.ts';
import { UseDpopNonceError, type DpopCheck, type Scheme } from './dpop/check.ts';
import { InvalidDpopProofError } from './dpop/proof.ts';
import { ReplayCacheUnavailableError } from './dpop/replay-cache.ts';
import { HEADER_MISMATCH, operationsOf } from './operation.ts';
import { hasScopes, type ScopePolicy } from './scopes.ts';
import { AuthServerUnavailableError, callerOf, InvalidTokenError, type TokenVerifier } from './verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthInfo;
  }
}

/**
 * The gate in front of /mcp, in order:
 *  0. one Authorization header at most → else 400 invalid_request;
 *  1. authentication — a Bearer or DPoP token in the Authorization header, verified, and for
 *     DPoP its proof (dpop/check.ts) → else 401 with a challenge per accepted scheme (no
 *     `error` when no token was sent, `invalid_token` or `invalid_dpop_proof` otherwise; a
 *     token in the query string is refused, never read);
 *  2. the operation — from Mcp-Method/Mcp-Name when present, the JSON-RPC body otherwise;
 *     a header contradicting the body → 400 HeaderMismatch;
 *  3. authorization — every scope the operation needs → else 403 insufficient_scope naming
 *     all of them, before any MCP code (or tool) runs.
 */
export function createBearerGate({ config, verifier, scopes, dpop }: { config: Config; verifier: TokenVerifier; scopes: ScopePolicy; dpop: DpopCheck }) {
  const challenge = (reply: FastifyReply, error?: Error, scheme?: Scheme) => {
    const refusal = error ? refusalOf(error, scheme, dpop.mode) : undefined;
    const nonce = dpop.currentNonce();
    if (nonce) reply.header('dpop-nonce', nonce);
    return reply
      .code(401)
      .header(
        'www-authenticate',
        unauthorizedChallenges({
          mode: dpop.mode,
          algorithms: dpop.algorithms,
          resourceMetadataUrl: config.resourceMetadataUrl,
          scopes: scopes.upFront,
          refusal,
        }),
      )
      .send(
        refusal
          ? { error: refusal.error, error_description: refusal.description }
          : { error: 'unauthorized', error_description: 'This MCP server needs an OAuth access token.' },
      );
  };

  return async function bearerGate(request: FastifyRequest, reply: FastifyReply) {
    // RFC 6750 §2.3 URI query tokens end up in logs and referrers: refused outright.
    if (typeof request.query === 'object' && request.query !== null && 'access_token' in request.query) {
      return challenge(reply, new InvalidTokenError('Access tokens are accepted only in the Authorization header, never in the URL.'));
    }
    // Node keeps only the first of several Authorization headers: which one was meant is
    // ambiguous, so neither is used (RFC 6750 §3.1 invalid_request).
    if (headerValues(request.raw.rawHeaders, 'authorization').length > 1) {
      const description = 'The request carries more than one Authorization header.';
      return reply
        .code(400)
        .header(
          'www-authenticate',
          wwwAuthenticate({ resourceMetadataUrl: config.resourceMetadataUrl, scopes: scopes.upFront, error: 'invalid_request', errorDescription: description }),
        )
        .send({ error: 'invalid_request', error_description: description });
    }
    const header = request.headers.authorization;
    if (!header) return challenge(reply);
    const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match) return challenge(reply, new InvalidTokenError('The Authorization header is not a Bearer or DPoP token.'));
    const scheme: Scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2]!;

    let auth: AuthInfo;
    try {
      auth = await verifier.verify(token);
      // After the (possibly cached) verification: the proof is checked on every request.
      const { nextNonce } = await dpop.check(request, scheme, token, callerOf(auth));
      if (nextNonce) reply.header('dpop-nonce', nextNonce);
    } catch (error) {
      if (error instanceof InvalidTokenError || error instanceof InvalidDpopProofError || error instanceof UseDpopNonceError)
        return challenge(reply, error, scheme);
      if (error instanceof ReplayCacheUnavailableError) {
        request.log.error({ reason: error.message }, 'cannot check DPoP proofs for replay: store unavailable');
        return reply
          .code(503)
          .header('retry-after', '5')
          .send({ error: 'temporarily_unavailable', error_description: 'DPoP proofs cannot be checked right now; try again shortly.' });
      }
      if (error instanceof AuthServerUnavailableError) {
        request.log.error({ reason: error.message }, 'cannot verify tokens: authorization server unavailable');
        return reply
          .code(503)
          .header('retry-after', '5')
          .send({ error: 'temporarily_unavailable', error_description: 'Tokens cannot be verified right now; try again shortly.' });
      }
      throw error;
    }
    request.auth = { ...auth, resourceMetadataUrl: config.resourceMetadataUrl };

    const operations = operationsOf({ method: headerValue(request.headers['mcp-method']), name: headerValue(request.headers['mcp-name']) }, request.body);
    if (!operations.ok) {
      return reply.code(400).send({ jsonrpc: '2.0', id: operations.id, error: { code: HEADER_MISMATCH, message: operations.message } });
    }
    const required = scopes.required(operations.operations);
    if (!hasScopes(auth.scopes, required)) {
      const what = operations.operations.map((op) => (op.name ? `${op.method} ${op.name}` : op.method)).join(', ');
      const description = `${what} needs the scopes ${required.join(' ')}.`;
      request.log.info({ client: auth.clientId, operation: what, required, granted: auth.scopes }, 'insufficient scope');
      return reply
        .code(403)
        .header(
          'www-authenticate',
          wwwAuthenticate({
            resourceMetadataUrl: config.resourceMetadataUrl,
            scopes: required,
            error: 'insufficient_scope',
            errorDescription: description,
            ...(scheme === 'DPoP' ? { scheme, algs: dpop.algorithms } : {}),
          }),
        )
        .send({ error: 'insufficient_scope', error_description: description, scope: required.join(' ') });
    }
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
