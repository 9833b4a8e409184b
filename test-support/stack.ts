/**
 * Starts the whole stack for a test — dev-idp, auth-server, resource-server — in this
 * process, on free loopback ports, with the users and client of dex/config.yaml.
 * Nothing is mocked: the browser-facing flows are driven by ScriptedBrowser over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig as loadAuthConfig } from '../auth-server/src/config.ts';
import { startAuthServer } from '../auth-server/src/server.ts';
import { DEFAULT_DEX_CONFIG } from '../dev-idp/src/config.ts';
import { loadDexConfig } from '../dev-idp/src/dex-config.ts';
import { startDevIdp, type DevIdpObservation } from '../dev-idp/src/server.ts';
import { freePort } from './ports.ts';
import { startRedis } from './redis.ts';
import { loadConfig as loadResourceConfig } from '../resource-server/src/config.ts';
import { startResourceServer, type RunningResourceServer } from '../resource-server/src/server.ts';

export interface Stack {
  idpIssuer: string;
  authServerIssuer: string;
  /** The MCP endpoint, e.g. http://127.0.0.1:41234/mcp — the token audience. */
  mcpUrl: string;
  resourceMetadataUrl: string;
  /** The extra resources' URLs, in the order of StackOptions.extraResourcePaths. */
  extraResources: string[];
  /** Stops the auth server and starts it again on the same port, key set and storage. */
  restartAuthServer(): Promise<void>;
  /**
   * A second auth-server instance with the same configuration (issuer, keys, storage) on
   * another port, as behind a load balancer; returns its base URL.
   */
  startAuthServerReplica(): Promise<string>;
  /** Stops dev-idp and starts it again on the same port: it forgets every token it issued. */
  restartIdp(): Promise<void>;
  /** Stops dev-idp: an IdP outage (restartIdp brings it back on the same port). */
  stopIdp(): Promise<void>;
  /** The auth server's key set (signing, cookie and encryption keys). */
  keysFile: string;
  /** The private Redis the auth server keeps its state in (default storage), for tests that read the store. */
  authServerRedisUrl: string | undefined;
  /** With StackOptions.tokenExchange: the resource server's confidential client at the auth server. */
  tokenExchangeClient: { clientId: string; clientSecret: string } | undefined;
  /** The resource server itself, for tests that reach into it (its app, its revoked grants). */
  resourceServer: RunningResourceServer;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Extra environment for the auth server (e.g. ACCESS_TOKEN_TTL). */
  authServerEnv?: Record<string, string>;
  /** Extra environment for the resource server. */
  resourceServerEnv?: Record<string, string>;
  /** CA certificate the auth server trusts for Client ID Metadata Document fetches. */
  cimdCa?: string;
  /** Where the auth server logs (default: nowhere); tests use it to read what it logged. */
  authServerLogger?: Logger;
  /** More resources the auth server issues tokens for (paths on a port nothing listens on). */
  extraResourcePaths?: string[];
  /** Access token format of those extra resources (default jwt). */
  extraResourceFormat?: 'jwt' | 'opaque';
  /** DPoP of those extra resources (default: the auth server's default, optional). */
  extraResourceDpop?: 'optional' | 'required';
  /**
   * Where the auth server keeps its state: a private real Redis started for this stack
   * (default, as with several instances), a SQLite file in the stack's temporary directory
   * (what `pnpm start` uses), or process memory. REDIS_URL or STORE in authServerEnv wins.
   */
  authServerStorage?: 'redis' | 'sqlite' | 'memory';
  /**
   * Where the resource server keeps notes: process memory (default) or a SQLite file in the
   * stack's temporary directory. REDIS_URL or STORE in resourceServerEnv wins.
   */
  resourceServerStorage?: 'sqlite' | 'memory';
  /**
   * The resource server as a confidential client of the auth server that may exchange tokens
   * for the MCP resource (RFC 8693), as `pnpm start` wires it; needs no CLIENTS_FILE in authServerEnv.
   */
  tokenExchange?: boolean;
  /** More CLIENTS_FILE entries beside the resource server's (with tokenExchange). */
  extraClients?: Record<string, unknown>[];
  /** Sees every request dev-idp receives and every token it issues. */
  idpObserver?: (observation: DevIdpObservation) => void;
  /**
   * dev-idp as the enterprise IdP: it issues ID-JAGs for this auth server to these of its
   * clients (dev-idp client → its client_id at the auth server), and the auth server trusts it
   * for those client ids (an ENTERPRISE_IDPS_FILE). Their CLIENTS_FILE entries: extraClients.
   */
  enterpriseClients?: Record<string, string>;
  /** More ENTERPRISE_IDPS_FILE entries beside dev-idp's (with enterpriseClients). */
  extraEnterpriseIdps?: Record<string, unknown>[];
  /** WORKLOAD_ISSUERS_FILE entries; `resource` defaults to the MCP endpoint, `extra_resource_path` names one of extraResourcePaths instead. */
  workloadIssuers?: Record<string, unknown>[];
  /** Where the resource server logs (default: nowhere). */
  resourceServerLogger?: Logger;
}

export { freePort };

export const DEMO_USERS = {
  alice: { login: 'alice@example.com', password: 'password', name: 'alice' },
  bob: { login: 'bob@example.com', password: 'password', name: 'bob' },
} as const;

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const silent = pino({ level: 'silent' });
  const clientSecret = randomBytes(24).toString('base64url');
  const [authPort, resourcePort] = [await freePort(), await freePort()];
  const authServerIssuer = `http://127.0.0.1:${authPort}`;
  const mcpUrl = `http://127.0.0.1:${resourcePort}/mcp`;

  const authStorageChosen = Boolean(options.authServerEnv?.REDIS_URL || options.authServerEnv?.STORE);
  const authStorage = options.authServerStorage ?? 'redis';
  const redis = !authStorageChosen && authStorage === 'redis' ? await startRedis() : undefined;

  // A key set and SQLite files of its own per stack, in a temporary directory removed on
  // close: never the repository's .data/, which `pnpm start` uses.
  const dataDir = await mkdtemp(join(tmpdir(), 'stack-'));
  const keysFile = join(dataDir, 'keys.json');
  const authStoreEnv: Record<string, string> = authStorageChosen
    ? {}
    : redis
      ? { REDIS_URL: redis.url }
      : authStorage === 'sqlite'
        ? { STORE: 'sqlite', SQLITE_PATH: join(dataDir, 'auth-server.db') }
        : { STORE: 'memory' };
  const resourceStoreEnv: Record<string, string> =
    options.resourceServerEnv?.REDIS_URL || options.resourceServerEnv?.STORE
      ? {}
      : options.resourceServerStorage === 'sqlite'
        ? { STORE: 'sqlite', SQLITE_PATH: join(dataDir, 'notes.db') }
        : { STORE: 'memory' };

  // The resource server reads revoked grants where the auth server publishes them, as in a
  // deployment that shares the store; with the auth server on memory there is nothing to read.
  const authEnvChosen = { ...authStoreEnv, ...options.authServerEnv };
  const revokedGrantsEnv: Record<string, string> = authEnvChosen.REDIS_URL
    ? { REVOKED_GRANTS: 'redis', REVOKED_GRANTS_REDIS_URL: authEnvChosen.REDIS_URL }
    : authEnvChosen.STORE === 'sqlite' && authEnvChosen.SQLITE_PATH
      ? { REVOKED_GRANTS: 'sqlite', REVOKED_GRANTS_SQLITE_PATH: authEnvChosen.SQLITE_PATH }
      : { REVOKED_GRANTS: 'off' };

  const unusedPort = await freePort();
  const extraResources = (options.extraResourcePaths ?? []).map((path) => `http://127.0.0.1:${unusedPort}${path}`);
  const resourcesEnv: Record<string, string> = {};
  if (extraResources.length) {
    const file = join(dataDir, 'resources.json');
    const scopes = ['mcp:tools', 'mcp:resources', 'mcp:prompts', 'notes:write', 'upstream:read'];
    const resources = [
      { url: mcpUrl, scopes, default_scopes: scopes.slice(0, 3) },
      ...extraResources.map((url) => ({
        url,
        scopes,
        default_scopes: scopes.slice(0, 3),
        access_token_format: options.extraResourceFormat ?? 'jwt',
        ...(options.extraResourceDpop ? { dpop: options.extraResourceDpop } : {}),
      })),
    ];
    await writeFile(file, JSON.stringify({ resources }));
    resourcesEnv.RESOURCES_FILE = file;
  }

  const tokenExchangeClient = options.tokenExchange ? { clientId: 'mcp-resource-server', clientSecret: randomBytes(24).toString('base64url') } : undefined;
  const exchangeEnv: Record<string, string> = {};
  if (tokenExchangeClient) {
    const file = join(dataDir, 'clients.json');
    const client = {
      client_id: tokenExchangeClient.clientId,
      client_secret: tokenExchangeClient.clientSecret,
      grant_types: [],
      token_exchange: { resources: [mcpUrl] },
    };
    await writeFile(file, JSON.stringify({ clients: [client, ...(options.extraClients ?? [])] }));
    exchangeEnv.CLIENTS_FILE = file;
  }

  const dex = await loadDexConfig(DEFAULT_DEX_CONFIG, { IDP_CLIENT_SECRET: clientSecret });
  const idpOptions = {
    dex,
    redirectUris: { 'mcp-auth-server': [`${authServerIssuer}/upstream/callback`] },
    logger: silent,
    ...(options.idpObserver ? { observe: options.idpObserver } : {}),
    ...(options.enterpriseClients ? { idJag: { audience: authServerIssuer, clients: options.enterpriseClients } } : {}),
  };
  let idp = await startDevIdp({ ...idpOptions, port: 0 });
  const idpIssuer = idp.issuer;

  const assertionIssuersEnv: Record<string, string> = {};
  if (options.enterpriseClients) {
    const file = join(dataDir, 'enterprise-idps.json');
    const enterprise_idps = [
      { issuer: idpIssuer, jwks_uri: `${idpIssuer}/keys`, clients: [...new Set(Object.values(options.enterpriseClients))] },
      ...(options.extraEnterpriseIdps ?? []),
    ];
    await writeFile(file, JSON.stringify({ enterprise_idps }));
    assertionIssuersEnv.ENTERPRISE_IDPS_FILE = file;
  }
  if (options.workloadIssuers) {
    const file = join(dataDir, 'workload-issuers.json');
    // `extra_resource_path` names one of extraResourcePaths, whose URL is known only here.
    const workload_issuers = options.workloadIssuers.map(({ extra_resource_path: path, ...entry }) => ({
      resource: typeof path === 'string' ? extraResources.find((url) => new URL(url).pathname === path) : mcpUrl,
      ...entry,
    }));
    await writeFile(file, JSON.stringify({ workload_issuers }));
    assertionIssuersEnv.WORKLOAD_ISSUERS_FILE = file;
  }

  const authEnv = {
    ISSUER: authServerIssuer,
    PORT: String(authPort),
    IDP_ISSUER: idpIssuer,
    IDP_CLIENT_SECRET: clientSecret,
    RESOURCE_URL: mcpUrl,
    LOG_LEVEL: 'silent',
    KEYS_FILE: keysFile,
    ...authStoreEnv,
    ...resourcesEnv,
    ...exchangeEnv,
    ...assertionIssuersEnv,
    ...options.authServerEnv,
  };
  const startAuth = (env: Record<string, string>) =>
    startAuthServer(loadAuthConfig(env), { logger: options.authServerLogger ?? silent, cimdCa: options.cimdCa, env: { ...process.env, ...env } });
  let authServer = await startAuth(authEnv);
  const replicas: Awaited<ReturnType<typeof startAuth>>[] = [];

  const resourceConfig = loadResourceConfig({
    RESOURCE_URL: mcpUrl,
    PORT: String(resourcePort),
    AUTH_SERVER_ISSUER: authServerIssuer,
    LOG_LEVEL: 'silent',
    ...resourceStoreEnv,
    ...revokedGrantsEnv,
    ...(tokenExchangeClient
      ? { TOKEN_EXCHANGE_CLIENT_ID: tokenExchangeClient.clientId, TOKEN_EXCHANGE_CLIENT_SECRET: tokenExchangeClient.clientSecret, UPSTREAM_ISSUER: idpIssuer }
      : {}),
    ...options.resourceServerEnv,
  });
  const resourceServer = await startResourceServer(resourceConfig, options.resourceServerLogger ?? silent);

  return {
    idpIssuer,
    keysFile,
    authServerRedisUrl: redis?.url,
    tokenExchangeClient,
    resourceServer,
    authServerIssuer,
    mcpUrl,
    resourceMetadataUrl: resourceConfig.resourceMetadataUrl,
    extraResources,
    async restartAuthServer() {
      await authServer.close();
      authServer = await startAuth(authEnv);
    },
    async startAuthServerReplica() {
      const port = await freePort();
      const replica = await startAuth({ ...authEnv, PORT: String(port) });
      replicas.push(replica);
      return `http://127.0.0.1:${port}`;
    },
    async stopIdp() {
      await idp.close();
    },
    async restartIdp() {
      await idp.close().catch(() => {}); // already stopped by stopIdp
      idp = await startDevIdp({ ...idpOptions, port: Number(new URL(idp.url).port), issuer: idpIssuer });
    },
    async close() {
      await Promise.allSettled([resourceServer.close(), authServer.close(), idp.close(), ...replicas.map((replica) => replica.close())]);
      await redis?.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
