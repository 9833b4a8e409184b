import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; Authorization headers and tokens are redacted if they ever reach one. */
export function createLogger(level: string): Logger {
  return pino({
    name: 'resource-server',
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.token', '*.access_token'],
      censor: '[redacted]',
    },
  });
}
