import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs without token material: request logs carry the path but never the
 * query string (where a misbehaving client might put `access_token`), and Authorization
 * headers and token fields are redacted should they ever reach a log line.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'resource-server',
      level,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.dpop', 'req.headers.cookie', '*.token', '*.access_token', 'token', 'access_token'],
        censor: '[redacted]',
      },
      serializers: { req: serializeRequest },
    },
    destination,
  );
}

/** Fastify request serializer: method, path (no query), remote address. */
export function serializeRequest(request: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) {
  return {
    method: request.method,
    path: request.url.split('?')[0],
    remoteAddress: request.ip,
    userAgent: request.headers?.['user-agent'],
  };
}
