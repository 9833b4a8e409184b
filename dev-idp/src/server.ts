// Starts dev-idp: oidc-provider mounted under the issuer's path (Dex's `/dex`), with the
// interaction routes beside it, on one HTTP server.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import mount from 'koa-mount';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { pino, type Logger } from 'pino';
import type { DexConfig } from './dex-config.ts';
import { interactionRoutes } from './interactions/routes.ts';
import type { IdJagPolicy } from './id-jag.ts';
import { createProvider } from './provider.ts';
import { StaticUsers } from './users.ts';

export interface StartDevIdpOptions {
  /** The parsed Dex configuration (see loadDexConfig / parseDexConfig). */
  dex: DexConfig;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default the Dex issuer's port. 0 = a free port. */
  port?: number;
  /**
   * Issuer override. Without it: the Dex issuer when listening on its port, otherwise
   * `http://<host>:<actual port><Dex issuer path>` (so `port: 0` gives a race-free issuer).
   */
  issuer?: string;
  /** Replaces static clients' redirect URIs, by client id (tests run clients on random ports). */
  redirectUris?: Record<string, string[]>;
  /** Exchange ID tokens for ID-JAGs (RFC 8693) for these clients and this authorization server (id-jag.ts). */
  idJag?: IdJagPolicy;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Sees every request and every token issuance (tests count refreshes and the bearer tokens the IdP receives). */
  observe?: (observation: DevIdpObservation) => void;
}

export type DevIdpObservation =
  | { kind: 'request'; method: string; path: string; bearerToken: string | undefined }
  | { kind: 'tokens_issued'; grantType: string; clientId: string | undefined };

export interface DevIdp {
  /** The OIDC issuer; discovery is at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /** Where the server listens, e.g. `http://127.0.0.1:5556` (no path). */
  url: string;
  close(): Promise<void>;
}

export const DEVELOPMENT_WARNING =
  'dev-idp is a DEVELOPMENT identity provider (static demo users from the Dex config, in-memory keys and sessions): never use it in production';

function defaultPort(issuer: string): number {
  const url = new URL(issuer);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function logProviderEvents(provider: ReturnType<typeof createProvider>, logger: Logger) {
  // Only error codes and descriptions: never parameters, codes, tokens or secrets.
  const describe = (err: { error?: string; error_description?: string; message: string }) => ({
    error: err.error ?? err.message,
    error_description: err.error_description,
  });
  provider.on('server_error', (_ctx: KoaContextWithOIDC, err: Error) => logger.error({ err }, 'oidc-provider server error'));
  const refused = (event: string) => (_ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string }) =>
    logger.info({ event, ...describe(err) }, 'request refused');
  provider.on('authorization.error', refused('authorization.error'));
  provider.on('grant.error', refused('grant.error'));
  provider.on('userinfo.error', refused('userinfo.error'));
  provider.on('grant.success', (ctx: KoaContextWithOIDC) =>
    logger.info({ client_id: ctx.oidc.client?.clientId, grant_type: ctx.oidc.params?.grant_type }, 'tokens issued'),
  );
}

export async function startDevIdp(options: StartDevIdpOptions): Promise<DevIdp> {
  const { dex } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  if (!dex.enablePasswordDB) {
    throw new Error('dev-idp serves only Dex static passwords: the Dex config must set enablePasswordDB: true');
  }
  const host = options.host ?? '127.0.0.1';
  const server = createServer();
  const address = await listen(server, options.port ?? defaultPort(dex.issuer), host);

  try {
    let issuer = options.issuer?.replace(/\/+$/, '');
    if (issuer === undefined) {
      const dexIssuer = new URL(dex.issuer);
      issuer = address.port === defaultPort(dex.issuer) ? dex.issuer : `http://${urlHost(host)}:${address.port}${dexIssuer.pathname.replace(/\/+$/, '')}`;
    }
    const mountPath = new URL(issuer).pathname.replace(/\/+$/, '');

    const users = new StaticUsers(dex.staticPasswords);
    const interactionsPath = `${mountPath}/interaction`;
    const provider = createProvider(issuer, {
      dex,
      users,
      interactionsPath,
      redirectUris: options.redirectUris,
      idJag: options.idJag,
    });
    logProviderEvents(provider, logger);
    const { observe } = options;
    if (observe) {
      provider.on('grant.success', (ctx: KoaContextWithOIDC) =>
        observe({ kind: 'tokens_issued', grantType: String(ctx.oidc.params?.grant_type), clientId: ctx.oidc.client?.clientId }),
      );
    }

    const app = new Koa();
    // koa-mount runs the provider's middleware on *this* app's context, so cookies it sets
    // are signed with this app's keys, while provider.interactionDetails() reads them with
    // the provider's own: both must hold the same keys.
    app.keys = provider.keys;
    app.silent = true;
    app.on('error', (err: Error) => logger.error({ err }, 'unhandled request error'));
    if (observe) {
      app.use(async (ctx, next) => {
        observe({ kind: 'request', method: ctx.method, path: ctx.path, bearerToken: /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1] });
        await next();
      });
    }
    app.use(interactionRoutes({ provider, users, prefix: interactionsPath, logger }).routes());
    app.use(mountPath ? mount(mountPath, provider) : mount(provider));
    const handle = app.callback();
    // Koa settles each request itself (ctx.onerror), so the promise it returns needs no one waiting on it.
    server.on('request', (req, res) => void handle(req, res));

    const url = `http://${urlHost(host)}:${address.port}`;
    logger.warn(DEVELOPMENT_WARNING);
    logger.info({ issuer, url, clients: dex.staticClients.map((c) => c.id), users: dex.staticPasswords.length }, 'dev-idp listening');
    if (options.idJag)
      logger.info({ audience: options.idJag.audience, clients: Object.keys(options.idJag.clients) }, 'dev-idp issues ID-JAGs by token exchange');

    return {
      issuer,
      url,
      close: () =>
        new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()));
          server.closeAllConnections();
        }),
    };
  } catch (err) {
    server.close();
    throw err;
  }
}
