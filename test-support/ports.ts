import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for servers whose URL must be known before they listen (an issuer names its port).
 *
 * Such a port is reserved and released, then bound a moment later; in between, anything
 * that takes an ephemeral port — a server on port 0, the local end of an outgoing
 * connection, another test file running in parallel — could be handed the same number.
 * So the port is picked at random *below* the kernel's ephemeral range, where nothing is
 * assigned automatically, and checked free by binding it.
 */

const { low: EPHEMERAL_LOW } = ephemeralRange();
const PICK_FROM = 10_000;

function ephemeralRange(): { low: number } {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && low > PICK_FROM + 1000) return { low };
  } catch {
    // not Linux: fall through
  }
  return { low: 32_768 };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port outside the ephemeral range that was free a moment ago. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (EPHEMERAL_LOW - PICK_FROM));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found between ${PICK_FROM} and ${EPHEMERAL_LOW}`);
}
