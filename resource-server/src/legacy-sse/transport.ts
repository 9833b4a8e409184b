import type { ServerResponse } from 'node:http';
import type { AuthInfo, JSONRPCMessage, MessageExtraInfo, Transport } from '@modelcontextprotocol/server';

/**
 * The server side of the deprecated HTTP+SSE transport (MCP 2024-11-05): one long-lived
 * `text/event-stream` response carries every server→client message, and the client POSTs
 * its messages to the endpoint announced in the first event. The v2 SDK no longer ships
 * one; this is ours rather than the v1 SDK's SSEServerTransport, which would bring the v1
 * SDK (its own types, body parsing and no bearer gate) into production for ~60 lines. It
 * only frames messages: who may open a stream or post into it is decided before it
 * (bearer gate, sessions.ts).
 */
export class SseServerTransport implements Transport {
  readonly sessionId: string;
  readonly #response: ServerResponse;
  readonly #endpoint: string;
  #started = false;
  #ended = false;
  #resolveEnded!: () => void;
  /** Settles once the stream is over, whichever side ended it. */
  readonly ended = new Promise<void>((resolve) => (this.#resolveEnded = resolve));
  /** When the stream was last written to (epoch ms), for keep-alive comments. */
  lastWriteAt = Date.now();

  onclose?: () => void;
  onerror?: (error: Error) => void;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- declared generic by the SDK's Transport interface, which this implements
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  /** `endpoint`: the path (with `sessionId`) the client POSTs to; `headers`: set before the stream starts (CORS). */
  constructor(
    response: ServerResponse,
    { sessionId, endpoint, headers = {} }: { sessionId: string; endpoint: string; headers?: Record<string, string | number | string[]> },
  ) {
    this.sessionId = sessionId;
    this.#response = response;
    this.#endpoint = endpoint;
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    // The client going away (or the socket failing) ends the session too.
    response.once('close', () => this.#end());
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('SseServerTransport already started');
    this.#started = true;
    this.#response.writeHead(200, {
      'content-type': 'text/event-stream',
      // no-transform: a compressing proxy would buffer the stream.
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // The socket goes with the stream: at shutdown an ended stream must not leave an idle
      // keep-alive connection for the HTTP server's close to wait on.
      connection: 'close',
    });
    this.#write(`event: endpoint\ndata: ${this.#endpoint}\n\n`);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#ended) throw new Error('the SSE stream has ended');
    // JSON.stringify never emits a raw newline, so one `data:` line is always a whole message.
    if (!this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)) {
      // A slow reader: wait for the socket rather than buffering without bound.
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#response.off('drain', done);
          this.#response.off('close', done);
          resolve();
        };
        this.#response.once('drain', done);
        this.#response.once('close', done);
      });
    }
  }

  /** A comment line: proxies that cut silent connections see traffic; clients ignore it. */
  keepAlive() {
    if (!this.#ended) this.#write(': keep-alive\n\n');
  }

  /** Hands a POSTed message to the MCP server, with the AuthInfo of the request that carried it. */
  deliver(message: JSONRPCMessage, authInfo: AuthInfo) {
    this.onmessage?.(message, { authInfo });
  }

  async close(): Promise<void> {
    this.#end();
  }

  #write(chunk: string): boolean {
    this.lastWriteAt = Date.now();
    return this.#response.write(chunk);
  }

  #end() {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#response.writableEnded) this.#response.end();
    this.#resolveEnded();
    this.onclose?.();
  }
}
