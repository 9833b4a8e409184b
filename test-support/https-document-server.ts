/**
 * An HTTPS server on 127.0.0.1 with a fresh self-signed certificate, serving JSON documents
 * at paths the test sets — Client ID Metadata Documents, here. Counts requests and TCP
 * connections, so a test can prove that a refused client id caused no connection at all.
 */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

export interface DocumentServer {
  origin: string;
  /** The certificate, to be trusted by the client under test. */
  ca: string;
  documents: Map<string, { body: unknown; headers?: Record<string, string> }>;
  requests: string[];
  /** TCP connections accepted, whether or not a request followed. */
  connections(): number;
  close(): Promise<void>;
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const documents: DocumentServer['documents'] = new Map();
  const requests: string[] = [];
  const server = createServer({ key: pems.private, cert: pems.cert }, (request, response) => {
    requests.push(request.url ?? '');
    const document = documents.get(request.url ?? '');
    if (!document) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json', ...document.headers }).end(JSON.stringify(document.body));
  });
  let connections = 0;
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    ca: pems.cert,
    documents,
    requests,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
