/**
 * SDK clients (and MCP Inspector) register with `scope` set to the resource's
 * scopes_supported. oidc-provider checks a client's `scope` against its OpenID scopes only
 * and would refuse the registration. Resource scopes are granted per resource by
 * policies/resources.ts, not per client, so they are dropped from the registered `scope`
 * (RFC 7591 §3.2.1: the server may register less than asked and says so in the response);
 * scopes nobody defines are left in, and refused as invalid_client_metadata.
 */
export function keepOnlyOidcScopes(metadata: { scope?: unknown }, resourceScopes: Set<string>) {
  if (typeof metadata.scope !== 'string') return;
  const kept = metadata.scope.split(' ').filter((scope) => scope && !resourceScopes.has(scope));
  if (kept.length) metadata.scope = kept.join(' ');
  else delete metadata.scope;
}
