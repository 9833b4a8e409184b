/**
 * The scopes each tool, resource and prompt declares are the only source of the gate's
 * decisions, of `scopes_supported` and of the 401 challenge: a server started with another
 * registry (a calendar tool and files of its own, with scopes of their own) shows clients
 * exactly that registry. A declaration without scopes does not register. A stand-in AS
 * signs tokens with whatever scopes a case needs.
 */
import { ResourceNotFoundError } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod/v4';
import { StandInAuthorizationServer } from '../../test-support/stand-in-authorization-server.ts';
import { freePort } from '../../test-support/stack.ts';
import { loadConfig } from '../src/config.ts';
import { serverRegistry } from '../src/mcp/catalog.ts';
import { createRegistry, defineResource, defineTool, RegistrationError, type Declarations } from '../src/mcp/registry.ts';
import { startResourceServer, type RunningResourceServer } from '../src/server.ts';
import { anonymousChallenge, insufficientScopeChallenge, mcp } from './helpers.ts';

const nextMeeting = defineTool({
  name: 'next_meeting',
  scopes: ['mcp:tools', 'calendar:read'],
  title: 'Next meeting',
  inputSchema: z.object({}),
  handler:
    ({ caller }) =>
    async () => ({ content: [{ type: 'text', text: `${caller.subject}: stand-up at 10` }] }),
});

const declarations: Declarations = {
  scopes: [
    { name: 'mcp:tools', upFront: true },
    { name: 'calendar:read', upFront: false },
    { name: 'files:read', upFront: false },
  ],
  lists: { tools: ['mcp:tools'], resources: ['mcp:tools'], prompts: ['mcp:tools'] },
  tools: [nextMeeting],
  resources: [
    defineResource({
      name: 'readme',
      scopes: ['mcp:tools', 'files:read'],
      uri: 'files://docs/readme',
      read: () => async (uri) => ({ contents: [{ uri: uri.href, text: 'read me' }] }),
    }),
    defineResource({
      name: 'doc',
      scopes: ['files:read'],
      uriTemplate: 'files://docs/{name}',
      read: () => async (uri) => {
        throw new ResourceNotFoundError(uri.href);
      },
    }),
  ],
  prompts: [],
};

let as: StandInAuthorizationServer;
let rs: RunningResourceServer;
let mcpUrl: string;
let metadataUrl: string;
beforeAll(async () => {
  as = await StandInAuthorizationServer.start();
  const port = await freePort();
  const config = loadConfig({
    RESOURCE_URL: `http://127.0.0.1:${port}/mcp`,
    AUTH_SERVER_ISSUER: as.issuer,
    STORE: 'memory',
    REVOKED_GRANTS: 'off',
    LOG_LEVEL: 'silent',
  });
  rs = await startResourceServer(config, pino({ level: 'silent' }), { registry: createRegistry(declarations) });
  mcpUrl = config.resourceUrl;
  metadataUrl = config.resourceMetadataUrl;
});
afterAll(async () => {
  await rs?.close();
  await as?.down();
});

const tokenWith = (scope: string) => as.sign(mcpUrl, { scope });

describe('a server shows clients the scopes its registry declares', () => {
  it('lists every declared scope in scopes_supported, in declaration order', async () => {
    const metadata = (await (await fetch(metadataUrl)).json()) as { scopes_supported: string[] };
    expect(metadata.scopes_supported).toEqual(['mcp:tools', 'calendar:read', 'files:read']);
  });

  it('challenges a request without a token with the up-front scopes only', async () => {
    const response = await mcp(mcpUrl, { method: 'tools/list' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(anonymousChallenge(metadataUrl, 'mcp:tools'));
  });

  it('lists the declared tool and refuses it with 403 naming every scope it declares, then runs it once they are granted', async () => {
    const listed = await mcp(mcpUrl, { token: await tokenWith('mcp:tools'), method: 'tools/list' });
    expect(listed.body.result.tools.map((tool: { name: string }) => tool.name)).toEqual(['next_meeting']);

    const call = { method: 'tools/call', params: { name: 'next_meeting', arguments: {} } };
    const refused = await mcp(mcpUrl, { token: await tokenWith('mcp:tools'), ...call });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe(
      insufficientScopeChallenge(metadataUrl, 'mcp:tools calendar:read', 'tools/call next_meeting needs the scopes mcp:tools calendar:read.'),
    );

    const allowed = await mcp(mcpUrl, { token: await tokenWith('mcp:tools calendar:read'), ...call });
    expect(allowed.status).toBe(200);
    expect(allowed.body.result.content[0]!.text).toBe('stand-in-user: stand-up at 10');
  });

  it('holds a tool name nothing declares to what listing tools needs', async () => {
    const response = await mcp(mcpUrl, { token: await tokenWith('calendar:read'), method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('scope="mcp:tools"');
  });

  it.each([
    ['the fixed URI', 'files://docs/readme', 'mcp:tools files:read'],
    ['the fixed URI spelled with an upper-case scheme (the SDK normalizes it)', 'FILES://docs/readme', 'mcp:tools files:read'],
    ['a URI of the template', 'files://docs/other', 'files:read'],
    ['a URI nothing declares', 'files://elsewhere/readme', 'mcp:tools'],
  ])('decides resources/read of %s by the resource that would serve it', async (_label, uri, scopes) => {
    const response = await mcp(mcpUrl, { token: await tokenWith('calendar:read'), method: 'resources/read', params: { uri } });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain(`scope="${scopes}"`);
  });

  it('reads the fixed resource once its scopes are granted', async () => {
    const response = await mcp(mcpUrl, { token: await tokenWith('mcp:tools files:read'), method: 'resources/read', params: { uri: 'files://docs/readme' } });
    expect(response.status).toBe(200);
    expect(response.body.result.contents[0]!.text).toBe('read me');
  });
});

describe('a declaration that does not say which scopes it needs does not register', () => {
  const withTool = (tool: unknown): Declarations => ({ ...declarations, tools: [nextMeeting, tool as typeof nextMeeting] });
  const bare = { name: 'notes_count', title: 'Count my notes', inputSchema: z.object({}), handler: () => async () => ({ content: [] }) };

  it.each([
    ['without scopes', bare, 'tool "notes_count" declares no scopes: name every scope it needs where it is declared'],
    ['with an empty list', { ...bare, scopes: [] }, 'tool "notes_count" declares no scopes'],
    [
      'with a scope the registry does not declare',
      { ...bare, scopes: ['mcp:tools', 'calendar:wirte'] },
      'tool "notes_count" needs "calendar:wirte", which is not a scope of this resource (mcp:tools, calendar:read, files:read)',
    ],
    ['under a name already taken', { ...bare, name: 'next_meeting', scopes: ['mcp:tools'] }, 'tool "next_meeting" is declared twice'],
  ])('refuses a tool %s, naming it', (_label, tool, message) => {
    expect(() => createRegistry(withTool(tool))).toThrow(RegistrationError);
    expect(() => createRegistry(withTool(tool))).toThrow(message);
  });

  it('refuses a resource or a prompt without scopes', () => {
    const { scopes: _scopes, ...resource } = declarations.resources[0]!;
    expect(() => createRegistry({ ...declarations, resources: [resource as never] })).toThrow('resource "readme" declares no scopes');
    const prompt = { name: 'plan_day', handler: () => async () => ({ messages: [] }) };
    expect(() => createRegistry({ ...declarations, prompts: [prompt as never] })).toThrow('prompt "plan_day" declares no scopes');
  });

  it('refuses a declared scope that nothing needs: scopes_supported would promise it', () => {
    expect(() => createRegistry({ ...declarations, scopes: [...declarations.scopes, { name: 'mail:send', upFront: false }] })).toThrow(
      'scope mail:send is declared but nothing needs it',
    );
  });

  it("this server's own registry registers", () => {
    expect(serverRegistry().scopesSupported).toEqual(['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write', 'upstream:read']);
  });
});
