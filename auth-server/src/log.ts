import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Nothing secret is logged on purpose; the redaction list is the
 * safety net for objects that carry one by accident (headers, token responses, forms).
 */
export function createLogger(level: string): Logger {
  return pino({
    name: 'auth-server',
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.access_token',
        '*.refresh_token',
        '*.id_token',
        '*.code',
        '*.code_verifier',
        '*.client_secret',
        '*.password',
      ],
      censor: '[redacted]',
    },
  });
}

/** An error as it is logged: class, message and code only (upstream errors can embed response bodies). */
export function describeError(error: unknown) {
  if (error instanceof Error) return { type: error.name, message: error.message, code: (error as { code?: unknown }).code };
  return { type: typeof error };
}
