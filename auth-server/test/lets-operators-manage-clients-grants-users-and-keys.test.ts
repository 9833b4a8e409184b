/**
 * `pnpm admin` (the real CLI process) against the store of a running auth server, on
 * SQLite and on Redis: lists users, clients and grants after real logins, revokes one grant
 * (its refresh token then fails with invalid_grant, the user's other client keeps working),
 * revokes all of a user's grants, deletes a self-registered client, asks before anything
 * destructive, prints no secret, and refuses key commands that would break the key set.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainAccessToken, tokenRequest } from '../../test-support/oauth-flow.ts';
import { DEMO_USERS, startStack, type Stack } from '../../test-support/stack.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'src', 'admin', 'cli.ts');

describe.each(['sqlite', 'redis'] as const)('on %s', (storage) => {
  let stack: Stack;
  let env: Record<string, string>;
  const logins: Record<string, { clientId: string; refreshToken: string }> = {};

  beforeAll(async () => {
    stack = await startStack({ authServerStorage: storage, authServerEnv: { RATE_LIMIT_REGISTRATION: '1000' } });
    env = {
      PATH: process.env.PATH!,
      KEYS_FILE: stack.keysFile,
      ...(storage === 'sqlite' ? { STORE: 'sqlite', SQLITE_PATH: join(dirname(stack.keysFile), 'auth-server.db') } : { REDIS_URL: stack.authServerRedisUrl! }),
    };
    for (const [name, user] of [
      ['aliceCli', DEMO_USERS.alice],
      ['aliceIde', DEMO_USERS.alice],
      ['bob', DEMO_USERS.bob],
    ] as const) {
      const { clientId, tokens } = await obtainAccessToken({
        issuer: stack.authServerIssuer,
        resource: stack.mcpUrl,
        user,
        clientMetadata: { client_name: `${name} app` },
      });
      logins[name] = { clientId, refreshToken: tokens.refresh_token! };
    }
  });
  afterAll(() => stack?.close());

  const admin = (...args: string[]) =>
    run(process.execPath, [cli, ...args], { env }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: unknown) => {
        const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
        return { code, stdout, stderr };
      },
    );
  const json = async <T>(...args: string[]) => {
    const result = await admin(...args, '--json');
    expect(result).toMatchObject({ code: 0 });
    return JSON.parse(result.stdout) as T;
  };
  const refresh = async (login: { clientId: string; refreshToken: string }) => {
    const answer = await tokenRequest(stack.authServerIssuer, { grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: login.clientId });
    if (answer.status === 200) login.refreshToken = typeof answer.body.refresh_token === 'string' ? answer.body.refresh_token : login.refreshToken;
    return answer;
  };

  it('lists the users who signed in, with their grants', async () => {
    const users = await json<{ email: string; grants: number }[]>('users', 'list');
    expect(users.map((user) => [user.email, user.grants]).sort()).toEqual([
      ['alice@example.com', 2],
      ['bob@example.com', 1],
    ]);
  });

  it('lists the self-registered clients without their secrets', async () => {
    const clients = await json<{ clientId: string; origin: string; name: string }[]>('clients', 'list');
    expect(
      clients
        .filter((client) => client.origin === 'dynamic')
        .map((client) => client.name)
        .sort(),
    ).toEqual(['aliceCli app', 'aliceIde app', 'bob app']);
    const raw = await admin('clients', 'show', logins.aliceCli!.clientId, '--json');
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).not.toMatch(/client_secret|registration_access_token|clientSecret/);
    expect((JSON.parse(raw.stdout) as { grants: unknown[] }).grants).toHaveLength(1);
  });

  it('takes ids that begin with a dash (random base64url ids do, one in 64) as ids, not options', async () => {
    const unknown = await admin('clients', 'show', '-iY3NotAClient', '--json');
    expect(unknown).toMatchObject({ code: 2, stderr: 'no client -iY3NotAClient\n' });
    expect(await admin('grants', 'list', '--user', '-nobody')).toMatchObject({
      code: 2,
      stderr: 'no user -nobody (users are known once they have signed in)\n',
    });
  });

  it('lists a user’s grants by email, with client, resource and scopes', async () => {
    const grants = await json<{ clientId: string; resources: { url: string; scopes: string[] }[] }[]>('grants', 'list', '--user', 'alice@example.com');
    expect(grants.map((grant) => grant.clientId).sort()).toEqual([logins.aliceCli!.clientId, logins.aliceIde!.clientId].sort());
    expect(grants[0]!.resources).toEqual([{ url: stack.mcpUrl, scopes: ['mcp:tools', 'mcp:resources', 'mcp:prompts'] }]);
  });

  it('asks before revoking, and refuses without a terminal unless --yes', async () => {
    const [grant] = await json<{ grantId: string }[]>('grants', 'list', '--user', 'bob@example.com');
    const refused = await admin('grants', 'revoke', grant!.grantId);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('add --yes');
    expect((await refresh(logins.bob!)).status).toBe(200);
  });

  it('revokes one grant: its refresh token fails with invalid_grant, the user’s other client keeps working', async () => {
    const grants = await json<{ grantId: string; clientId: string }[]>('grants', 'list', '--user', 'alice@example.com');
    const cliGrant = grants.find((grant) => grant.clientId === logins.aliceCli!.clientId)!;
    expect((await admin('grants', 'revoke', cliGrant.grantId, '--yes')).code).toBe(0);
    const revoked = await refresh(logins.aliceCli!);
    expect(revoked.status).toBe(400);
    expect(revoked.body.error).toBe('invalid_grant');
    expect((await refresh(logins.aliceIde!)).status).toBe(200);
  });

  it('revokes every grant of a user', async () => {
    expect(await json('grants', 'revoke', '--user', 'bob@example.com', '--yes')).toEqual({ revokedGrants: 1 });
    expect((await refresh(logins.bob!)).body.error).toBe('invalid_grant');
  });

  it('deletes a self-registered client with its grants', async () => {
    expect((await admin('clients', 'delete', logins.aliceIde!.clientId, '--yes')).code).toBe(0);
    const gone = await refresh(logins.aliceIde!);
    expect(gone.status).toBe(401);
    expect(gone.body.error).toBe('invalid_client');
    const missing = await admin('clients', 'show', logins.aliceIde!.clientId);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('no client') });
  });

  it('refuses key commands that would leave no signing key, and writes nothing', async () => {
    const before = await readFile(stack.keysFile, 'utf8');
    for (const keep of ['0', 'x', '1.5']) {
      const refused = await admin('keys', 'retire', keep);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('keep must be a whole number');
    }
    expect((await admin('keys', 'promote')).code).toBe(2);
    expect(await readFile(stack.keysFile, 'utf8')).toBe(before);
    const listed = await json<{ signingKeys: { signs: boolean }[] }>('keys', 'list');
    expect(listed.signingKeys.filter((key) => key.signs)).toHaveLength(1);
  });
});

it('explains that a memory store cannot be administered from outside the server', async () => {
  const result = await run(process.execPath, [cli, 'users', 'list'], { env: { PATH: process.env.PATH!, STORE: 'memory' } }).catch(
    (error: unknown) => error as { code: number; stderr: string },
  );
  expect(result).toMatchObject({ code: 2, stderr: expect.stringContaining('STORE=memory keeps the state inside the auth server process') });
});
