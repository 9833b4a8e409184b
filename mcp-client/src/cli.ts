#!/usr/bin/env node
/**
 * mcp-client: argument parsing and the commands. The flow itself lives in flow/, `doctor` in doctor.ts.
 */
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { CallToolResult, Tool } from '@modelcontextprotocol/client';
import { checkAssertionFiles, parseAssertionFlags } from './assertion-flags.ts';
import { doctor } from './doctor.ts';
import { CliError, usageError } from './errors.ts';
import { parseServerUrl } from './flow/discover.ts';
import { selectScope } from './flow/authorize.ts';
import { clientAuthentication } from './flow/client-assertion.ts';
import { DpopKeys } from './flow/dpop.ts';
import { storedAuthorizationServer } from './flow/discovery.ts';
import { MAX_STEP_UPS, discoverFor, login, withMcp } from './flow/login.ts';
import type { FlowOptions } from './flow/login.ts';
import { CLIENT_VERSION, callTool, listTools } from './flow/mcp.ts';
import { checkClientMetadataUrl, checkRedirectUri, clientInformation, plannedRegistration } from './flow/register.ts';
import { revoke } from './flow/tokens.ts';
import { Store } from './store.ts';
import { Trace, since } from './trace.ts';

export const USAGE = `mcp-client ${CLIENT_VERSION} — MCP OAuth discovery and login, every step shown as it happens

Usage:
  mcp-client discover <url>                   trace discovery only (challenge, RFC 9728, RFC 8414/OIDC;
                                              2025-03-26 discovery for a server without RFC 9728 metadata)
  mcp-client login <url>                      log in (browser + loopback callback), then list tools
  mcp-client tools <url>                      list tools (stored token, refreshed or logging in as needed)
  mcp-client call <url> <tool> [json-args]    call a tool, e.g. call http://localhost:3000/mcp whoami '{}'
  mcp-client logout <url>                     revoke (RFC 7009) and forget the tokens for <url>
  mcp-client doctor <url>                     check the server against the MCP authorization spec
                                              without logging in: every deviation, with its rule
                                              and reference. Registers a client at the
                                              authorization server (a change on someone else's
                                              server; deleted again where it offers RFC 7592)
                                              and sends it two authorization requests; exit 1
                                              when a login would be refused

<url> is the MCP endpoint, e.g. http://localhost:3000/mcp

Options:
  --no-browser            print the authorization URL instead of opening a browser
  --json                  machine output: one JSON object per line (NDJSON) on stdout
  --verbose               also dump every HTTP exchange (credentials redacted) on stderr
  --timeout <seconds>     how long to wait for the browser callback (default 300)
  --scope <scopes>        request these scopes instead of the challenged / advertised ones
  --client-metadata-url <https-url>
                          your Client ID Metadata Document: used as the client_id by
                          authorization servers that support it (else DCR)
  --client-id <id>        use a pre-registered client instead of registering
  --client-secret <s>     its secret, if confidential (or set MCP_CLIENT_SECRET)
  --redirect-uri <uri>    the loopback redirect URI registered for --client-id (or listed in
                          the --client-metadata-url document), e.g. http://127.0.0.1:8976/callback;
                          the callback listens exactly there. With --enterprise-idp: the one
                          registered for --idp-client-id
  --issuer <url>          the authorization server --client-id belongs to; the
                          credentials are never sent to any other
  --client-credentials    machine client: client_credentials grant with --client-id and
                          --client-secret or --client-key, no browser
  --client-key <file>     authenticate --client-id with private_key_jwt (RFC 7523): its private
                          key as a JWK or PEM (PKCS#8, EC or RSA); the alg follows from the key
                          (P-256 ES256, RSA RS256, Ed25519 EdDSA). Instead of a secret, for every
                          token request of that client; only the file's path is stored
  --client-key-alg <alg>  sign with this algorithm instead (e.g. PS256 for an RSA key)
  --workload-token-file <file>
                          workload identity: redeem the JWT in <file> (e.g. a Kubernetes
                          service-account token) with the JWT bearer grant, as --client-id;
                          read again for every token; no browser, no retry after a refusal
  --enterprise-idp <issuer>
                          enterprise-managed authorization: sign in at this IdP (browser),
                          exchange the ID token there for an ID-JAG (RFC 8693) for the MCP
                          server's authorization server, redeem it with the JWT bearer grant
                          as --client-id (with its secret or --client-key)
  --idp-client-id <id>    mcp-client's client at the enterprise IdP
  --idp-client-secret <s> its secret, if confidential (or set MCP_IDP_CLIENT_SECRET)
  --id-token-file <file>  an ID token the IdP issued to --idp-client-id: exchanged instead of
                          signing in
  --max-step-ups <n>      re-authorizations on 403 insufficient_scope (default ${MAX_STEP_UPS})
  --new-client            register a new client even if one is stored for the AS
  --no-dpop               Bearer tokens only. By default tokens are DPoP-bound (RFC 9449)
                          where the authorization server and the MCP server both offer it
  --no-register           doctor: do not register a client nor send authorization requests
  -h, --help              show this help
  --version               show the version

Environment:
  MCP_CLIENT_CONFIG_DIR   where credentials are stored (default $XDG_CONFIG_HOME/mcp-client
                          or ~/.config/mcp-client); one 0600 JSON file per authorization server
  MCP_CLIENT_SECRET       client secret for --client-id (keeps it off the command line)
  MCP_IDP_CLIENT_SECRET   client secret for --idp-client-id
  NO_COLOR                disable colours

Exit status: 0 success; 1 failure (or a tool result with isError); 2 usage error.
`;

interface Parsed {
  command: string;
  positionals: string[];
  flow: Omit<FlowOptions, 'trace' | 'store' | 'dpop'>;
  /** doctor: register a probe client (false with --no-register). */
  register: boolean;
  json: boolean;
  verbose: boolean;
  help: boolean;
  version: boolean;
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'no-browser': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        scope: { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'client-metadata-url': { type: 'string' },
        issuer: { type: 'string' },
        'client-credentials': { type: 'boolean', default: false },
        'client-key': { type: 'string' },
        'client-key-alg': { type: 'string' },
        'workload-token-file': { type: 'string' },
        'enterprise-idp': { type: 'string' },
        'idp-client-id': { type: 'string' },
        'idp-client-secret': { type: 'string' },
        'id-token-file': { type: 'string' },
        'max-step-ups': { type: 'string' },
        'new-client': { type: 'boolean', default: false },
        'no-dpop': { type: 'boolean', default: false },
        'redirect-uri': { type: 'string' },
        'no-register': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
  let timeoutSeconds = 300;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
      throw usageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
  }
  let maxStepUps = MAX_STEP_UPS;
  if (values['max-step-ups'] !== undefined) {
    maxStepUps = Number(values['max-step-ups']);
    if (!Number.isInteger(maxStepUps) || maxStepUps < 0)
      throw usageError(`--max-step-ups must be a whole number ≥ 0, got ${JSON.stringify(values['max-step-ups'])}`);
  }
  const clientSecret = values['client-secret'] ?? env['MCP_CLIENT_SECRET'];
  if (values['client-secret'] !== undefined && values['client-id'] === undefined) throw usageError('--client-secret needs --client-id');
  if (values.issuer !== undefined && values['client-id'] === undefined)
    throw usageError('--issuer names the authorization server of --client-id; pass --client-id too');
  if (values.issuer !== undefined && !URL.canParse(values.issuer))
    throw usageError(`--issuer must be the authorization server's issuer URL, got ${JSON.stringify(values.issuer)}`);
  const machine = parseAssertionFlags(values, clientSecret, env);
  if (values['client-credentials'] && (!values['client-id'] || (!clientSecret && !machine.clientKeyFile))) {
    throw usageError('--client-credentials needs --client-id and a secret (--client-secret or MCP_CLIENT_SECRET) or --client-key');
  }
  const clientMetadataUrl = values['client-metadata-url'] === undefined ? undefined : checkClientMetadataUrl(values['client-metadata-url']);
  if (values['redirect-uri'] !== undefined && values['client-id'] === undefined && clientMetadataUrl === undefined && !machine.enterprise) {
    throw usageError(
      '--redirect-uri names the redirect URI of --client-id or of the --client-metadata-url document; a dynamically registered client gets its own',
    );
  }
  const redirectUri = values['redirect-uri'] === undefined ? undefined : checkRedirectUri(values['redirect-uri']);
  const [command = '', ...rest] = positionals;
  if (values['no-register'] && command !== 'doctor') throw usageError('--no-register is an option of `doctor`');
  return {
    command,
    positionals: rest,
    register: !values['no-register'],
    json: values.json,
    verbose: values.verbose,
    help: values.help,
    version: values.version,
    flow: {
      noBrowser: values['no-browser'],
      timeoutMs: Math.round(timeoutSeconds * 1000),
      scope: values.scope,
      preRegistered: values['client-id']
        ? {
            clientId: values['client-id'],
            ...(clientSecret ? { clientSecret } : {}),
            ...(values.issuer ? { issuer: values.issuer } : {}),
            ...(machine.clientKeyFile ? { clientKeyFile: machine.clientKeyFile } : {}),
            ...(machine.clientKeyAlg ? { clientKeyAlg: machine.clientKeyAlg } : {}),
          }
        : undefined,
      clientMetadataUrl,
      redirectUri,
      clientCredentials: values['client-credentials'],
      workloadTokenFile: machine.workloadTokenFile,
      enterprise: machine.enterprise,
      maxStepUps,
      newClient: values['new-client'],
      noDpop: values['no-dpop'],
    },
  };
}

function needUrl(parsed: Parsed, count = 1): URL {
  const url = parsed.positionals[0];
  if (!url) throw usageError(`\`${parsed.command}\` needs the MCP server URL.`);
  if (parsed.positionals.length > count) throw usageError(`Unexpected argument: ${parsed.positionals[count]}`);
  return parseServerUrl(url);
}

function toolLine(tool: Tool): string {
  return tool.description ? `${tool.name} — ${tool.description.split('\n')[0]}` : tool.name;
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

async function cmdDiscover(options: FlowOptions, url: URL): Promise<number> {
  const d = await discoverFor(options, url);
  const { scope } = selectScope({
    override: options.scope,
    challengeScope: d.challenge.scope,
    scopesSupported: d.prm?.metadata.scopes_supported,
    asScopesSupported: options.clientCredentials ? undefined : d.as.metadata.scopes_supported,
  });
  const stored = (await options.store.read(d.as.issuer)).client;
  const plan = plannedRegistration({
    metadata: d.as.metadata,
    stored,
    preRegistered: options.preRegistered,
    clientMetadataUrl: options.clientMetadataUrl,
    redirectUri: options.redirectUri,
    issuer: d.as.issuer,
  });
  options.trace.result(
    {
      command: 'discover',
      serverUrl: url.href,
      resource: d.resource,
      resourceParameter: d.resourceParameter !== undefined,
      discovery: d.mode,
      issuer: d.as.issuer,
      authorizationServers: d.prm?.metadata.authorization_servers,
      scope,
      registration: plan.source,
      clientId: plan.clientId,
      redirectUris: plan.redirectUris,
      clientIdMetadataDocumentSupported: d.as.metadata.client_id_metadata_document_supported === true,
      registrationEndpoint: d.as.metadata.registration_endpoint,
    },
    [
      `MCP server            ${url.href}`,
      `resource              ${d.resource}${d.resourceParameter ? '' : ' (the MCP server URL; not sent as the resource parameter)'}`,
      `authorization server  ${d.as.issuer}${d.mode === 'rfc9728' ? '' : " (legacy discovery, spec 2025-03-26: the MCP server's origin)"}`,
      `would request scope   ${scope ? `"${scope}"` : '(none)'}`,
      `client                ${plan.description}`,
    ].join('\n'),
  );
  return 0;
}

async function cmdLogin(options: FlowOptions, url: URL): Promise<number> {
  const access = await login(options, url);
  const { value: tools } = await withMcp(options, url, (session) => timedTools(options, session), access);
  options.trace.result(
    {
      command: 'login',
      serverUrl: url.href,
      resource: access.resource,
      issuer: access.issuer,
      scope: access.scope,
      refreshToken: access.hasRefreshToken,
      tools: tools.map((t) => t.name),
      store: options.store.pathFor(access.issuer),
    },
    `Logged in to ${access.resource} via ${access.issuer} (scope "${access.scope ?? ''}"). Tools: ${tools.map((t) => t.name).join(', ') || '(none)'}`,
  );
  return 0;
}

async function timedTools(options: FlowOptions, session: Parameters<typeof listTools>[0]): Promise<Tool[]> {
  const start = performance.now();
  const tools = await listTools(session);
  options.trace.step(
    'tools',
    { count: tools.length, tools: tools.map((t) => t.name), ms: since(start) },
    `tools/list → ${tools.map((t) => t.name).join(', ') || '(none)'}`,
  );
  return tools;
}

async function cmdTools(options: FlowOptions, url: URL): Promise<number> {
  const { value: tools } = await withMcp(options, url, (session) => timedTools(options, session));
  options.trace.result(
    { command: 'tools', serverUrl: url.href, tools: tools.map((t) => ({ name: t.name, title: t.title, description: t.description })) },
    tools.map(toolLine).join('\n') || '(no tools)',
  );
  return 0;
}

function renderContent(result: CallToolResult): string {
  const parts: string[] = [];
  for (const item of result.content) {
    if (item.type === 'text') parts.push(item.text);
    else parts.push(JSON.stringify(item));
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent, null, 2));
  return parts.join('\n');
}

async function cmdCall(options: FlowOptions, url: URL, tool: string, rawArgs: string | undefined): Promise<number> {
  let args: Record<string, unknown> = {};
  if (rawArgs !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawArgs);
    } catch {
      throw usageError(`The tool arguments must be a JSON object, got: ${rawArgs}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw usageError('The tool arguments must be a JSON object, e.g. \'{"text":"hi"}\'');
    args = parsed as Record<string, unknown>;
  }
  const { value: result } = await withMcp(options, url, async (session) => {
    const start = performance.now();
    const value = await callTool(session, url, tool, args);
    options.trace.step(
      'tool_call',
      { tool, isError: value.isError === true, ms: since(start) },
      `tools/call ${tool} → ${value.isError ? 'isError' : 'ok'}`,
      value.isError !== true,
    );
    return value;
  });
  options.trace.result(
    { command: 'call', serverUrl: url.href, tool, isError: result.isError === true, content: result.content, structuredContent: result.structuredContent },
    renderContent(result),
  );
  return result.isError ? 1 : 0;
}

async function cmdLogout(options: FlowOptions, url: URL): Promise<number> {
  const { trace, store } = options;
  const start = performance.now();
  const found = await store.findByServer(url.href);
  trace.step(
    'stored_token',
    { found: Boolean(found), issuer: found?.issuer, resource: found?.entry.resource, ms: since(start) },
    found ? `issuer=${found.issuer} resource=${found.entry.resource}` : `none for ${url.href}`,
    Boolean(found),
  );
  if (!found) {
    trace.result({ command: 'logout', serverUrl: url.href, revoked: false, removed: false }, `No stored tokens for ${url.href}; nothing to do.`);
    return 0;
  }
  let revoked = false;
  try {
    const as = await storedAuthorizationServer(found.issuer, found.entry, trace);
    const endpoint = as.metadata.revocation_endpoint;
    const revStart = performance.now();
    if (!endpoint || !found.client) {
      trace.step(
        'revocation',
        { revoked: false, reason: endpoint ? 'no stored client' : 'no revocation_endpoint advertised', ms: since(revStart) },
        endpoint ? 'skipped: no stored client' : 'skipped: the AS advertises no revocation_endpoint',
        false,
      );
    } else {
      const client = clientInformation(found.client);
      const clientAuth = await clientAuthentication(found.issuer, found.client, trace, as.metadata);
      const statuses: Record<string, number> = {};
      // Refresh token first: revoking it typically ends the whole grant (RFC 7009 §2.1).
      if (found.entry.tokens.refresh_token) {
        statuses['refreshToken'] = await revoke({
          endpoint,
          metadata: as.metadata,
          client,
          token: found.entry.tokens.refresh_token,
          hint: 'refresh_token',
          clientAuth,
          trace,
        });
      }
      statuses['accessToken'] = await revoke({
        endpoint,
        metadata: as.metadata,
        client,
        token: found.entry.tokens.access_token,
        hint: 'access_token',
        clientAuth,
        trace,
      });
      revoked = Object.values(statuses).every((s) => s === 200);
      trace.step(
        'revocation',
        { endpoint, revoked, status: statuses, ms: since(revStart) },
        `${endpoint} → ${Object.entries(statuses)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        revoked,
      );
    }
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    trace.step('revocation', { revoked: false, error: error.code, message: error.message }, `${error.message} Removing the local tokens anyway.`, false);
  }
  const removed = await store.deleteTokens(found.issuer, found.entry.resource);
  trace.result(
    { command: 'logout', serverUrl: url.href, issuer: found.issuer, resource: found.entry.resource, revoked, removed },
    `Logged out of ${found.entry.resource}${revoked ? ' (tokens revoked at the authorization server)' : ' (tokens not revoked at the AS; removed locally)'}.`,
  );
  return 0;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

export async function main(argv: string[], io: { stdout?: Writable; stderr?: Writable } = {}): Promise<number> {
  // Until the arguments parse, format errors the way the flags ask for as best we can.
  let trace = new Trace({ json: argv.includes('--json'), verbose: argv.includes('--verbose'), ...io });
  try {
    const parsed = parseCommandLine(argv);
    trace = new Trace({ json: parsed.json, verbose: parsed.verbose, ...io });
    if (parsed.version) {
      trace.stdout.write(`${CLIENT_VERSION}\n`);
      return 0;
    }
    if (parsed.help || parsed.command === '' || parsed.command === 'help') {
      trace.stdout.write(USAGE);
      return parsed.help || parsed.command === 'help' ? 0 : 2;
    }
    if (parsed.command !== 'doctor') await checkAssertionFiles(parsed.flow, trace);
    const store = new Store();
    const options: FlowOptions = { ...parsed.flow, trace, store, dpop: new DpopKeys(store, trace, parsed.flow.noDpop) };
    switch (parsed.command) {
      case 'discover':
        return await cmdDiscover(options, needUrl(parsed));
      case 'login':
        return await cmdLogin(options, needUrl(parsed));
      case 'tools':
        return await cmdTools(options, needUrl(parsed));
      case 'call': {
        const url = needUrl(parsed, 3);
        const tool = parsed.positionals[1];
        if (!tool) throw usageError('`call` needs a tool name: mcp-client call <url> <tool> [json-args]');
        return await cmdCall(options, url, tool, parsed.positionals[2]);
      }
      case 'logout':
        return await cmdLogout(options, needUrl(parsed));
      case 'doctor':
        return await doctor({ trace, register: parsed.register, scope: parsed.flow.scope }, needUrl(parsed));
      default:
        throw usageError(`Unknown command: ${parsed.command}`);
    }
  } catch (error) {
    const cliError =
      error instanceof CliError
        ? error
        : new CliError('internal', `Unexpected error: ${error instanceof Error ? error.message : String(error)}`, {
            hint: 'Run again with --verbose for details.',
          });
    trace.error(cliError, error instanceof Error ? error.stack : undefined);
    return cliError.exitCode;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // Let stdout drain (pipes can be asynchronous), then exit without waiting for idle keep-alive sockets.
  process.stdout.write('', () => process.exit(code));
}
