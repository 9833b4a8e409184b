/**
 * Both servers on a real Redis Cluster of three masters (REDIS_CLUSTER_NODES): a sign-in, a
 * refresh rotation and the family revocation of a replayed refresh token, the per-address
 * rate limit, the once-per-grant upstream refresh lock, and the resource server's notes.
 * On a cluster every script and transaction must stay within one hash slot, so the records
 * of one grant are placed on three different masters on purpose and revoked as one.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStorage, type Storage } from '../src/adapters/index.ts';
import { loadConfig as loadAuthConfig } from '../src/config.ts';
import { loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';
import { createNotesStore } from '../../resource-server/src/server.ts';
import type { DevIdpObservation } from '../../dev-idp/src/server.ts';
import { obtainAccessToken, registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { startRedisCluster, type TestRedisCluster } from '../../test-support/redis-topologies.ts';
import { until } from '../../test-support/until.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';
import { exchangeToken } from '../../test-support/token-exchange.ts';
import { mcp } from '../../resource-server/test/helpers.ts';

const silent = pino({ level: 'silent' });
let cluster: TestRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterAll(() => cluster?.stop());

it('is configured from REDIS_CLUSTER_NODES, and named so in the logs and /readyz', () => {
  const config = loadAuthConfig({ IDP_CLIENT_SECRET: 'x', REDIS_CLUSTER_NODES: cluster.env });
  expect(config.store).toMatchObject({ kind: 'redis', cluster: { nodes: cluster.nodes, tls: false } });
});

describe('the auth server’s store on the cluster', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createStorage({
      store: loadAuthConfig({ IDP_CLIENT_SECRET: 'x', REDIS_CLUSTER_NODES: cluster.env }).store,
      policy: { refreshOverlapSeconds: 0 },
      logger: silent,
    });
  });
  afterAll(() => storage?.close());

  /** An id whose record of `model` lives on the master at `port`. */
  async function idOn(model: string, port: number) {
    for (;;) {
      const id = randomUUID();
      if ((await cluster.masterOf(`oidc:${model}:${id}`)) === port) return id;
    }
  }

  it('revokes a replayed refresh token’s whole family although its records sit on three masters', async () => {
    const [a, b, c] = cluster.nodes.map((node) => node.port) as [number, number, number];
    const grantId = await idOn('Grant', a);
    const ids = { code: await idOn('AuthorizationCode', b), accessToken: await idOn('AccessToken', c), refreshToken: await idOn('RefreshToken', a) };
    await storage.adapter('Grant').upsert(grantId, { jti: grantId, kind: 'Grant' }, 3600);
    await storage.adapter('AuthorizationCode').upsert(ids.code, { grantId }, 60);
    await storage.adapter('AccessToken').upsert(ids.accessToken, { grantId }, 600);
    await storage.adapter('RefreshToken').upsert(ids.refreshToken, { grantId }, 3600);
    const unrelated = await idOn('RefreshToken', b);
    await storage.adapter('RefreshToken').upsert(unrelated, { grantId: randomUUID() }, 3600);

    await storage.adapter('RefreshToken').consume(ids.refreshToken);
    await expect(storage.adapter('RefreshToken').consume(ids.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });

    expect(await storage.adapter('Grant').find(grantId)).toBeUndefined();
    expect(await storage.adapter('AuthorizationCode').find(ids.code)).toBeUndefined();
    expect(await storage.adapter('AccessToken').find(ids.accessToken)).toBeUndefined();
    expect(await storage.adapter('RefreshToken').find(ids.refreshToken)).toBeUndefined();
    expect(await storage.adapter('RefreshToken').find(unrelated)).toBeDefined();
  });

  it('finds sessions by uid across masters and lists a model’s records from every master (operators)', async () => {
    const ports = cluster.nodes.map((node) => node.port);
    const sessions = await Promise.all(ports.map((port) => idOn('Session', port)));
    for (const [index, id] of sessions.entries()) await storage.adapter('Session').upsert(id, { uid: `uid-${id}`, n: index }, 600);
    for (const [index, id] of sessions.entries()) expect(await storage.adapter('Session').findByUid(`uid-${id}`)).toMatchObject({ n: index });
    const listed = (await storage.list('Session')).map((record) => record.id);
    expect(listed).toEqual(expect.arrayContaining(sessions));
  });
});

describe('the stack on the cluster', () => {
  let stack: Stack;
  const observed: DevIdpObservation[] = [];

  beforeAll(async () => {
    stack = await startStack({
      tokenExchange: true,
      authServerEnv: {
        STORE: 'redis',
        REDIS_CLUSTER_NODES: cluster.env,
        REFRESH_TOKEN_REUSE_WINDOW: '0',
        RATE_LIMIT_REGISTRATION: '3',
        // Rate limits key on X-Forwarded-For here, so the test's own address has a counter of its own.
        TRUST_PROXY: 'true',
        ACCESS_TOKEN_TTL: String(24 * 60 * 60),
      },
      // The resource server reads the revoked grants from the cluster too.
      resourceServerEnv: { STORE: 'redis', REDIS_CLUSTER_NODES: cluster.env, REVOKED_GRANTS: 'auto' },
      idpObserver: (observation) => observed.push(observation),
    });
  });
  afterAll(() => stack?.close());
  afterEach(() => vi.useRealTimers());

  it('is ready with the cluster as its store, and the resource server reads revoked grants there', async () => {
    expect(loadResourceConfig({ REDIS_CLUSTER_NODES: cluster.env }).revokedGrants).toMatchObject({
      kind: 'redis',
      target: { cluster: { nodes: cluster.nodes } },
    });
    const response = await fetch(`${stack.authServerIssuer}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ready', storage: { kind: 'redis', ok: true } });
  });

  it('signs alice in, rotates her refresh token, and revokes the family when a rotated one comes back — at the resource server too', async () => {
    const { clientId, tokens } = await obtainAccessToken({ issuer: stack.authServerIssuer, resource: stack.mcpUrl, user: DEMO_USERS.alice });
    expect((await mcp(stack.mcpUrl, { token: tokens.access_token, method: 'tools/list' })).status).toBe(200);
    const refresh = (token: string) => tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });
    const rotated = await refresh(tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    const next = String(rotated.body.refresh_token);
    expect(next).not.toBe(tokens.refresh_token);

    const replay = await refresh(tokens.refresh_token!);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await refresh(next)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The resource server polls the revoked grants once a second: a bounded wait.
    await until(
      'the resource server refuses the revoked grant’s access token',
      async () => (await mcp(stack.mcpUrl, { token: tokens.access_token, method: 'tools/list' })).status === 401,
      5000,
    );
  });

  it('counts registrations per address in the cluster and answers 429 past the limit', async () => {
    const register = () =>
      fetch(`${stack.authServerIssuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native' }),
      });
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt++) statuses.push((await register()).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    // Another address is not limited.
    expect((await registerClient(stack.authServerIssuer)).status).toBe(201);
  });

  it('refreshes an expired upstream token once for concurrent exchanges (the per-grant lock)', async () => {
    const { tokens } = await obtainAccessToken({
      issuer: stack.authServerIssuer,
      resource: stack.mcpUrl,
      user: DEMO_USERS.bob,
      scope: 'mcp:tools upstream:read',
    });
    const exchange = () => exchangeToken(stack.authServerIssuer, stack.tokenExchangeClient!, { subject_token: tokens.access_token, audience: stack.idpIssuer });
    const first = await exchange();
    expect(first.status).toBe(200);
    const refreshes = () => observed.filter((o) => o.kind === 'tokens_issued' && o.grantType === 'refresh_token').length;
    const before = refreshes();

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61 * 60 * 1000); // dev-idp's access tokens live an hour
    const answers = await Promise.all(Array.from({ length: 5 }, exchange));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(answers.map((answer) => answer.body.access_token)).size).toBe(1);
    expect(answers[0]!.body.access_token).not.toBe(first.body.access_token);
    expect(refreshes() - before).toBe(1);
  });
});

it('keeps the resource server’s notes on the cluster, per user, within the limit script', async () => {
  const notes = createNotesStore(loadResourceConfig({ REDIS_CLUSTER_NODES: cluster.env, REDIS_KEY_PREFIX: `cluster-${randomUUID()}:` }), silent);
  try {
    expect(notes.kind).toBe('redis');
    const owners = ['alice', 'bob', 'carol', 'dave'];
    for (const owner of owners) await notes.add(owner, `${owner}’s note`);
    for (const owner of owners) expect((await notes.list(owner)).map((note) => note.text)).toEqual([`${owner}’s note`]);
    const [note] = await notes.list('alice');
    expect(await notes.remove('alice', note!.id)).toBe(true);
    expect(await notes.list('alice')).toEqual([]);
    expect((await notes.readiness()).ok).toBe(true);
  } finally {
    await notes.close();
  }
});
