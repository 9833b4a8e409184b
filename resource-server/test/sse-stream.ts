/**
 * A raw HTTP+SSE client for the legacy transport's tests: opens `GET …/sse` with fetch and
 * reads its events as they arrive, so every status, header, event and the stream's end is
 * visible (the SDK's SSEClientTransport hides them).
 */

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The body of a refused request (no stream). */
  body: unknown;
  /** The `endpoint` event's URL, absolute. */
  endpoint: URL | undefined;
  /** The next event (comments included, as event `comment`); undefined once the stream ended. */
  next(): Promise<SseEvent | undefined>;
  /** Settles when the server ends the stream. */
  ended: Promise<void>;
  /** Drops the connection from the client side. */
  close(): void;
}

export async function openSse(url: string, { token, headers = {} }: { token?: string; headers?: Record<string, string> } = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    signal: controller.signal,
  });
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
      endpoint: undefined,
      next: async () => undefined,
      ended: Promise.resolve(),
      close: () => {},
    };
  }

  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const queue: SseEvent[] = [];
  const waiting: Array<(event: SseEvent | undefined) => void> = [];
  let buffer = '';
  let done = false;
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const push = (event: SseEvent | undefined) => {
    const waiter = waiting.shift();
    if (waiter) waiter(event);
    else if (event) queue.push(event);
  };
  void (async () => {
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buffer += value;
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          push(parseEvent(block));
        }
      }
    } catch {
      // aborted by close()
    }
    done = true;
    resolveEnded();
    while (waiting.length) waiting.shift()!(undefined);
  })();

  const next = () =>
    queue.length ? Promise.resolve(queue.shift()) : done ? Promise.resolve(undefined) : new Promise<SseEvent | undefined>((resolve) => waiting.push(resolve));
  const first = await next();
  const endpoint = first?.event === 'endpoint' ? new URL(first.data, url) : undefined;
  return { status: response.status, headers: response.headers, body: undefined, endpoint, next, ended, close: () => controller.abort() };
}

function parseEvent(block: string): SseEvent {
  if (block.startsWith(':')) return { event: 'comment', data: block.slice(1).trim() };
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { event, data: data.join('\n') };
}

/** POSTs one JSON-RPC message to a session's endpoint, as a legacy client does. */
export async function postMessage(
  endpoint: URL | string,
  message: Record<string, unknown>,
  { token, headers = {} }: { token?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, headers: response.headers, body };
}
