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
  // Start-up failures an operator can fix get one line, not a stack trace.
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'ECONNREFUSED' || code === 'ENOENT') {
    console.error(`resource-server could not start: ${message}`);
    process.exit(1);
  }
  throw error;
}
