import type { Config } from './config.ts';

/** RFC 9728 protected resource metadata: where clients learn which AS to use and what to ask for (the registry's scopes). */
export function protectedResourceMetadata(config: Config, scopesSupported: readonly string[]) {
  return {
    resource: config.resourceUrl,
    authorization_servers: [config.authServer.issuer],
    scopes_supported: scopesSupported,
    bearer_methods_supported: ['header'],
    // RFC 9728 §2: the DPoP proof algorithms, and whether only DPoP-bound tokens are accepted.
    dpop_signing_alg_values_supported: config.dpop.algorithms,
    dpop_bound_access_tokens_required: config.dpop.mode === 'required',
    resource_name: 'MCP OAuth reference server',
  };
}
