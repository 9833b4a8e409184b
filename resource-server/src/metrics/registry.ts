import { Counter, Histogram, Registry } from 'prom-client';

/**
 * The resource server's metrics, one registry per server (tests run several in one process).
 * Labels are small fixed vocabularies — a JSON-RPC method of the MCP spec, an HTTP status, a
 * reason, one of this server's scopes — never a token, a user or a client id.
 */
export function createResourceMetrics() {
  const registry = new Registry();
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    mcpRequests: counter('resource_server_mcp_requests_total', 'Requests to the MCP endpoint, by JSON-RPC method and HTTP status', ['method', 'status']),
    tokenRejections: counter('resource_server_token_rejections_total', 'Requests refused before any MCP code ran because of their credential, by reason', [
      'reason',
    ]),
    stepUpChallenges: counter('resource_server_step_up_challenges_total', '403 insufficient_scope answers, by each scope the challenge names', ['scope']),
    jwksFetches: counter('resource_server_jwks_fetches_total', 'Fetches of the authorization server JWKS, by reason and outcome', ['reason', 'outcome']),
    verifiedTokenCacheHits: counter(
      'resource_server_verified_token_cache_hits_total',
      'Verifications answered from the verified-token cache (no signature check)',
    ),
    verificationSeconds: new Histogram({
      name: 'resource_server_token_verification_seconds',
      help: 'Time to verify an access token (cache hits included), by outcome',
      labelNames: ['outcome'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5],
      registers: [registry],
    }),
  };
}

export type ResourceMetrics = ReturnType<typeof createResourceMetrics>;
