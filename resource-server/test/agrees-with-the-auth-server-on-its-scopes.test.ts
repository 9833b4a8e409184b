/**
 * The auth server is configured apart from the resource server (no import across packages at
 * run time), so its defaults are held here to the scopes the resource server's registry
 * declares: a scope added to a tool but not to the auth server could never be granted, and
 * the consent page would not say what it allows.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../auth-server/src/config.ts';
import { describeScope } from '../../auth-server/src/interactions/scopes.ts';
import { serverRegistry } from '../src/mcp/catalog.ts';

const registry = serverRegistry();
// Only what the auth server needs to load: every RESOURCE_* variable at its default.
const authServer = loadConfig({ IDP_CLIENT_SECRET: 'unused-here' });

describe("the auth server's defaults for this resource", () => {
  it('RESOURCE_SCOPES lists exactly the scopes the resource server declares', () => {
    expect(authServer.resource.scopes).toEqual(registry.scopesSupported);
  });

  it('RESOURCE_DEFAULT_SCOPES are the scopes the 401 challenge asks for up front', () => {
    expect(authServer.resource.defaultScopes).toEqual(registry.policy.upFront);
  });

  it('the consent page describes every declared scope', () => {
    const fallback = describeScope('a-scope-nobody-declares');
    for (const scope of registry.scopesSupported) expect(describeScope(scope), scope).not.toBe(fallback);
  });
});
