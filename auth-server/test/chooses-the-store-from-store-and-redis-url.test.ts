/**
 * STORE, REDIS_URL and SQLITE_PATH, for both servers: SQLite by default (each under its own
 * .data/, the auth server's beside its key set), Redis when REDIS_URL is set — docker compose
 * stays on Redis — memory only when asked; an empty variable is unset, and a STORE that
 * cannot be honoured names the variable.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig as loadAuthConfig } from '../src/config.ts';
import { ConfigError as ResourceConfigError, loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';

const root = resolve(import.meta.dirname, '..', '..');
const auth = (env: Record<string, string>) => loadAuthConfig({ IDP_CLIENT_SECRET: 'x', ...env });
const resource = (env: Record<string, string>) => loadResourceConfig(env);

describe.each([
  { server: 'auth-server', load: auth, error: ConfigError, file: resolve(root, 'auth-server', '.data', 'auth-server.db') },
  { server: 'resource-server', load: resource, error: ResourceConfigError, file: resolve(root, 'resource-server', '.data', 'notes.db') },
])('$server', ({ load, error, file }) => {
  it('keeps its state in a SQLite file under its own .data/ by default, and when variables are empty', () => {
    expect(load({}).store).toEqual({ kind: 'sqlite', path: file });
    expect(load({ STORE: '', REDIS_URL: '', SQLITE_PATH: '' }).store).toEqual({ kind: 'sqlite', path: file });
  });

  it('treats every empty variable as unset, not only the store’s (PORT= is the default port, not port 0)', () => {
    expect(load({ PORT: '', LOG_LEVEL: '' })).toMatchObject({ port: load({}).port, logLevel: 'info' });
  });

  it('takes SQLITE_PATH, relative to the working directory', () => {
    expect(load({ SQLITE_PATH: '/srv/state.db' }).store).toEqual({ kind: 'sqlite', path: '/srv/state.db' });
    expect(load({ SQLITE_PATH: 'state.db' }).store).toEqual({ kind: 'sqlite', path: resolve('state.db') });
  });

  it('uses Redis when REDIS_URL is set, unless STORE says otherwise', () => {
    expect(load({ REDIS_URL: 'redis://cache:6379' }).store).toMatchObject({ kind: 'redis', url: 'redis://cache:6379' });
    expect(load({ REDIS_URL: 'redis://cache:6379', STORE: 'sqlite' }).store).toEqual({ kind: 'sqlite', path: file });
    expect(load({ STORE: 'memory' }).store).toEqual({ kind: 'memory' });
  });

  it('names the variable when STORE cannot be honoured', () => {
    expect(() => load({ STORE: 'redis' })).toThrow(error);
    expect(() => load({ STORE: 'redis' })).toThrow('REDIS_URL: must be set when STORE=redis');
    expect(() => load({ STORE: 'postgres' })).toThrow('STORE: must be sqlite, redis or memory');
  });
});

it('keeps the resource server’s token cache on with TOKEN_CACHE_SECONDS= (empty is unset, not 0)', () => {
  expect(resource({ TOKEN_CACHE_SECONDS: '' }).tokenCacheTtlMs).toBe(60_000);
});

it('puts the auth server’s SQLite file beside its key set', () => {
  const config = auth({});
  expect(config.store.kind === 'sqlite' && dirname(config.store.path)).toBe(dirname(config.keysFile));
});

it('keeps docker compose on Redis for both servers', () => {
  const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string | number | boolean> }>;
  };
  const env = (service: string) =>
    Object.fromEntries(
      Object.entries(compose.services[service]!.environment ?? {}).map(([key, value]) => [
        key,
        String(value).startsWith('${') ? 'from-compose' : String(value),
      ]),
    );
  expect(loadAuthConfig(env('auth-server')).store).toEqual({ kind: 'redis', url: 'redis://redis:6379' });
  expect(loadResourceConfig(env('resource-server')).store).toMatchObject({ kind: 'redis', url: 'redis://redis:6379' });
});
