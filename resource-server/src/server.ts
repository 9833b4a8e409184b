import type { FastifyInstance } from 'fastify';
import { createApp } from './app.ts';
import { TokenVerifier } from './auth/verify.ts';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './log.ts';

export interface RunningResourceServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the app from the configuration and listens; used by main.ts and by tests. */
export async function startResourceServer(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningResourceServer> {
  const verifier = new TokenVerifier({
    issuer: config.authServer.issuer,
    internalUrl: config.authServer.internalUrl,
    audience: config.resourceUrl,
    algorithms: config.accessTokenAlgorithms,
    clockTolerance: config.clockTolerance,
  });
  const app = await createApp({ config, verifier, logger });
  await app.listen({ host: config.host, port: config.port });
  logger.info({ resource: config.resourceUrl, metadata: config.resourceMetadataUrl, authorizationServer: config.authServer.issuer }, 'resource-server ready');
  return { url: config.resourceUrl, app, close: () => app.close() };
}
