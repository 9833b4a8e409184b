import type { Config } from './config.ts';

/** RFC 9728 protected resource metadata: where clients learn which AS to use and what to ask for (the registry's scopes). */
export function protectedResourceMetadata(config: Config, scopesSupported: readonly string[]) {
  return {
    resource: config.resourceUrl,
    authorization_servers: [config.authServer.issuer],
    scopes_supported: scopesSupported,
    bearer_methods_supported: ['header'],
    resource_name: 'MCP OAuth reference server',
  };
}
