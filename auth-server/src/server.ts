import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryAccountStore } from './accounts.ts';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { cookieKeys, generateSigningKey } from './keys.ts';
import { createLogger, type Logger } from './log.ts';
import { createProvider } from './provider.ts';
import { UpstreamIdp } from './upstream.ts';

export interface RunningAuthServer {
  issuer: string;
  server: Server;
  close(): Promise<void>;
}

/** Builds every part from the configuration and listens; used by main.ts and by tests. */
export async function startAuthServer(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningAuthServer> {
  const accounts = new MemoryAccountStore();
  logger.warn('no REDIS_URL: clients, grants, sessions and accounts are kept in process memory and lost on restart');
  const signingKeys = [await generateSigningKey()];
  logger.warn('signing key generated for this process only: tokens issued now stop verifying after a restart');
  const keys = cookieKeys(config.cookieKeys);
  const provider = createProvider({ config, accounts, signingKeys, cookieKeys: keys });
  const upstream = new UpstreamIdp({ ...config.idp });
  const app = createApp({ config, provider, upstream, accounts, logger, cookieKeys: keys });

  const server = createServer(app.callback());
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  logger.info({ issuer: config.issuer, listening: `${config.host}:${port}` }, 'auth-server ready');
  return {
    issuer: config.issuer,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
