// dev-idp entry point: environment → Dex config → server. Nothing else.

import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { loadDexConfig } from './dex-config.ts';
import { startDevIdp } from './server.ts';

const logger = pino({ name: 'dev-idp' });

try {
  const config = loadConfig();
  logger.level = config.logLevel;
  const dex = await loadDexConfig(config.dexConfigPath);
  const idp = await startDevIdp({
    dex,
    host: config.host,
    ...(config.port !== undefined ? { port: config.port } : {}),
    idJag: config.idJag,
    logger,
  });
  logger.info(`dev-idp issuer ${idp.issuer} (discovery: ${idp.issuer}/.well-known/openid-configuration)`);

  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    idp.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  logger.fatal((err as Error).message);
  process.exitCode = 1;
}
