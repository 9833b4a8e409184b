/**
 * What the DPoP step costs per request, piece by piece, measured here in one process with
 * the resource server's own modules (auth/dpop/): the proof check with jose (key cached, as
 * for every request after a client's first), a client's first proof (its key imported and
 * thumbprinted), and recording the jti in each replay store. Sequential, so each figure is
 * the time of one operation on this machine, not a throughput.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DpopKey } from '../test-support/dpop.ts';
import { startRedis } from '../test-support/redis.ts';
import { DpopProofVerifier } from '../resource-server/src/auth/dpop/proof.ts';
import { createReplayCache, type ReplayCache } from '../resource-server/src/auth/dpop/replay-cache.ts';

export interface Cost {
  step: string;
  microseconds: number;
}

const HTU = 'http://127.0.0.1:3000/mcp';
const TOKEN = 'e'.repeat(900); // the size of this stack's access tokens

async function perOperation(count: number, operation: (index: number) => Promise<unknown>): Promise<number> {
  for (let index = 0; index < Math.min(200, count); index++) await operation(index);
  const start = performance.now();
  for (let index = 0; index < count; index++) await operation(index);
  return ((performance.now() - start) * 1000) / count;
}

export async function dpopCosts(count = 2000): Promise<Cost[]> {
  const key = await DpopKey.generate();
  const proofs = await Promise.all(Array.from({ length: count + 200 }, () => key.proof({ htm: 'POST', htu: HTU, accessToken: TOKEN })));
  const verifier = new DpopProofVerifier({ algorithms: ['ES256'], maxAgeSeconds: 60, clockToleranceSeconds: 5 });
  const verify = (proof: string, with_ = verifier) => with_.verify({ proof, method: 'POST', htu: HTU, accessToken: TOKEN });

  const costs: Cost[] = [];
  costs.push({
    step: 'proof check (jose jwtVerify ES256 through WebCrypto, header, htm, htu, iat, ath), key cached',
    microseconds: await perOperation(count, (index) => verify(proofs[index % proofs.length]!)),
  });

  const firstProofs = await Promise.all(
    Array.from({ length: 300 }, async () => {
      const fresh = await DpopKey.generate();
      return fresh.proof({ htm: 'POST', htu: HTU, accessToken: TOKEN });
    }),
  );
  const cold = await perOperation(firstProofs.length - 200, (index) =>
    verify(firstProofs[index]!, new DpopProofVerifier({ algorithms: ['ES256'], maxAgeSeconds: 60, clockToleranceSeconds: 5 })),
  );
  costs.push({ step: "a client's first proof (the same, plus importJWK and the RFC 7638 thumbprint)", microseconds: cold });

  const dir = await mkdtemp(join(tmpdir(), 'bench-dpop-'));
  const redis = await startRedis();
  const logger = pino({ level: 'silent' });
  const stores: [string, () => ReplayCache][] = [
    ['memory', () => createReplayCache({ kind: 'memory' }, logger)],
    ['SQLite file: memory, written behind every 100 ms', () => createReplayCache({ kind: 'sqlite', path: join(dir, 'replay.db') }, logger)],
    ['Redis on loopback: one SET NX EX', () => createReplayCache({ kind: 'redis', url: redis.url, keyPrefix: 'bench:' }, logger)],
  ];
  try {
    for (const [name, open] of stores) {
      const cache = open();
      for (let jti = 0; jti < 200; jti++) await cache.firstUse(key.thumbprint, `warm-${jti}`, 65);
      // Timed up to the close, so the SQLite file's deferred write counts.
      const start = performance.now();
      for (let jti = 0; jti < count; jti++) await cache.firstUse(key.thumbprint, `jti-${jti}`, 65);
      await cache.close();
      costs.push({ step: `jti recorded (${name})`, microseconds: ((performance.now() - start) * 1000) / count });
    }
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return costs;
}
