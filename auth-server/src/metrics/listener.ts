import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { MetricsConfig } from './variables.ts';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * GET /metrics in the Prometheus text format, on a listener of its own: the public port
 * never serves it, and it stays on loopback unless METRICS_HOST opens it to a scraper.
 * Process figures (CPU, memory, event-loop lag, GC) come with this server's own.
 */
export async function startMetricsListener(registry: Registry, config: MetricsConfig): Promise<MetricsListener> {
  collectDefaultMetrics({ register: registry });
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n'),
    );
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
