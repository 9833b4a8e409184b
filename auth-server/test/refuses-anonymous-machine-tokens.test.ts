/**
 * client_credentials issues tokens with no user in the loop (RFC 6749 §4.4), so only clients
 * the operator registered (CLIENTS_FILE) with a secret may hold it. Self-registered clients
 * (DCR) and Client ID Metadata Document clients are refused at registration with
 * invalid_client_metadata; a client stored before the rule existed is refused at the token
 * endpoint with unauthorized_client.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { RedisAdapter } from '../src/adapters/redis.ts';
import { loadStaticClients } from '../src/registry.ts';
import { startDocumentServer, type DocumentServer } from '../../test-support/https-document-server.ts';
import { registerClient, tokenRequest } from '../../test-support/oauth-flow.ts';
import { startRedis, type TestRedis } from '../../test-support/redis.ts';
import { startStack, type Stack } from '../../test-support/stack.ts';

const MACHINE_SECRET = 'machine-client-secret-0123456789';
let redis: TestRedis;
let documents: DocumentServer;
let stack: Stack;
let clientsFile: string;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'machine-clients-'));
  clientsFile = join(dir, 'clients.yaml');
  await writeFile(
    clientsFile,
    ['clients:', '  - client_id: nightly-report', `    client_secret: ${MACHINE_SECRET}`, '    grant_types: [client_credentials]'].join('\n'),
  );
  [redis, documents] = await Promise.all([startRedis(), startDocumentServer()]);
  stack = await startStack({
    authServerEnv: { REDIS_URL: redis.url, CLIENTS_FILE: clientsFile, CIMD_ALLOW_LOOPBACK: 'true', RATE_LIMIT_REGISTRATION: '1000' },
    cimdCa: documents.ca,
  });
});
afterAll(async () => {
  await Promise.allSettled([stack?.close(), documents?.close()]);
  await redis?.stop();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function clientCredentials(clientId: string, secret?: string) {
  const response = await fetch(`${stack.authServerIssuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(secret ? { authorization: basic(clientId, secret) } : {}) },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: stack.mcpUrl, ...(secret ? {} : { client_id: clientId }) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('dynamic client registration', () => {
  it('refuses a public client that asks for client_credentials', async () => {
    const { status, body } = await registerClient(stack.authServerIssuer, {
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client_metadata');
    expect(body.error_description).toMatch(/client_credentials/);
  });

  it('refuses a confidential client that asks for client_credentials beside the code flow', async () => {
    const { status, body } = await registerClient(stack.authServerIssuer, {
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      application_type: 'web',
    });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client_metadata');
  });

  it('still registers code-flow clients, public and confidential', async () => {
    expect((await registerClient(stack.authServerIssuer)).status).toBe(201);
    const confidential = await registerClient(stack.authServerIssuer, { token_endpoint_auth_method: 'client_secret_basic', application_type: 'web' });
    expect(confidential.status).toBe(201);
    expect(confidential.body.grant_types).toEqual(['authorization_code', 'refresh_token']);
    // …and that confidential client, holding a secret, still gets no machine token.
    const answer = await clientCredentials(confidential.body.client_id, String(confidential.body.client_secret));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'unauthorized_client' });
  });

  it('refuses client_credentials at the token endpoint to a client stored before the rule existed', async () => {
    const connection = new Redis(redis.url);
    try {
      const clients = new RedisAdapter('Client', connection, { refreshOverlapSeconds: 5 });
      await clients.upsert('legacy-anonymous-machine', {
        client_id: 'legacy-anonymous-machine',
        client_id_issued_at: Math.floor(Date.now() / 1000) - 86_400,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      } as never);
    } finally {
      connection.disconnect();
    }
    const answer = await clientCredentials('legacy-anonymous-machine');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'unauthorized_client' });
    expect(answer.body.access_token).toBeUndefined();
  });
});

describe('Client ID Metadata Documents', () => {
  it('refuses a document that declares client_credentials, and issues no token for it', async () => {
    const clientId = `${documents.origin}/clients/machine.json`;
    documents.documents.set('/clients/machine.json', {
      body: {
        client_id: clientId,
        client_name: 'Machine',
        redirect_uris: [],
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'none',
      },
    });
    const answer = await clientCredentials(clientId);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body).toMatchObject({ error: 'invalid_client_metadata' });
    expect(answer.body.error_description).toMatch(/client_credentials/);
    expect(answer.body.access_token).toBeUndefined();
  });
});

describe('operator-registered clients', () => {
  it('still get client_credentials tokens with their secret', async () => {
    const answer = await clientCredentials('nightly-report', MACHINE_SECRET);
    expect(answer.status).toBe(200);
    expect(answer.body.token_type).toBe('Bearer');
  });

  it('refuses a CLIENTS_FILE that gives client_credentials to a client without a secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bad-clients-'));
    const file = join(dir, 'clients.yaml');
    await writeFile(
      file,
      ['clients:', '  - client_id: anonymous-machine', '    token_endpoint_auth_method: none', '    grant_types: [client_credentials]'].join('\n'),
    );
    const config = loadConfig({ IDP_CLIENT_SECRET: 'x', CLIENTS_FILE: file });
    await expect(loadStaticClients(config)).rejects.toThrow(/anonymous-machine.*client_credentials|client_credentials.*secret/);
  });
});

describe('the token endpoint without a client', () => {
  it('answers invalid_request, never a token', async () => {
    const answer = await tokenRequest(stack.authServerIssuer, { grant_type: 'client_credentials', resource: stack.mcpUrl });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });
});
