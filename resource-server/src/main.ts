import { ConfigError, loadConfig } from './config.ts';
import { startResourceServer } from './server.ts';

try {
  const running = await startResourceServer(loadConfig());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void running.close().finally(() => process.exit(0)));
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
