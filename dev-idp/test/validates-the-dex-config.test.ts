import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_DEX_CONFIG, loadConfig } from '../src/config.ts';
import { DexConfigError, loadDexConfig, parseDexConfig } from '../src/dex-config.ts';

const client = (extra: string) => `
issuer: http://localhost:5556/dex
enablePasswordDB: true
staticClients:
  - id: app
    redirectURIs: [http://localhost:4000/cb]
${extra}
`;

describe('dex-config', () => {
  it("parses the repository's dex/config.yaml, ignoring Dex keys dev-idp does not use", async () => {
    const dex = await loadDexConfig(DEFAULT_DEX_CONFIG, { IDP_CLIENT_SECRET: 's3cret' });
    expect(dex.issuer).toBe('http://localhost:5556/dex');
    expect(dex.enablePasswordDB).toBe(true);
    expect(dex.staticClients).toEqual([
      {
        id: 'mcp-auth-server',
        name: 'MCP Authorization Server',
        secret: 's3cret',
        redirectURIs: ['http://localhost:4000/upstream/callback'],
        public: false,
      },
    ]);
    expect(dex.staticPasswords.map((u) => [u.email, u.username])).toEqual([
      ['alice@example.com', 'alice'],
      ['bob@example.com', 'bob'],
    ]);
    expect(dex).not.toHaveProperty('storage');
  });

  it('names the missing secretEnv variable', async () => {
    const text = await readFile(DEFAULT_DEX_CONFIG, 'utf8');
    expect(() => parseDexConfig(text, {})).toThrow(DexConfigError);
    expect(() => parseDexConfig(text, {})).toThrow(/IDP_CLIENT_SECRET.*not set/);
    expect(() => parseDexConfig(text, { IDP_CLIENT_SECRET: '' })).toThrow(/IDP_CLIENT_SECRET/);
  });

  it('takes an inline secret, and refuses a confidential client with none', () => {
    expect(parseDexConfig(client('    secret: inline'), {}).staticClients[0]?.secret).toBe('inline');
    expect(() => parseDexConfig(client(''), {})).toThrow(/staticClients\[0\] \(app\).*needs secret or secretEnv/);
    expect(parseDexConfig(client('    public: true'), {}).staticClients[0]).toMatchObject({ public: true, secret: undefined });
  });

  it('refuses a password entry whose hash is not bcrypt, naming where', () => {
    const yaml = `${client('    secret: x')}
staticPasswords:
  - email: eve@example.com
    hash: "password"
    username: eve
    userID: e1
`;
    expect(() => parseDexConfig(yaml, {})).toThrow(/staticPasswords\.0\.hash: must be a bcrypt hash/);
  });

  it('refuses a missing issuer and invalid YAML with clear messages', () => {
    expect(() => parseDexConfig('staticClients: []\n', {})).toThrow(/issuer/);
    expect(() => parseDexConfig('issuer: [unclosed\n', {})).toThrow(/invalid YAML/);
  });
});

describe('environment config', () => {
  it('defaults to the repository dex/config.yaml, 127.0.0.1 and info', () => {
    expect(loadConfig({})).toEqual({
      dexConfigPath: DEFAULT_DEX_CONFIG,
      host: '127.0.0.1',
      port: undefined,
      logLevel: 'info',
      idJag: { audience: 'http://localhost:4000', clients: { 'mcp-client-enterprise': 'mcp-enterprise-client' } },
    });
    expect(DEFAULT_DEX_CONFIG.endsWith('/dex/config.yaml')).toBe(true);
  });

  it('names the bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT: must be a port number/);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(loadConfig({ PORT: '5600', LOG_LEVEL: 'debug' })).toMatchObject({ port: 5600, logLevel: 'debug' });
  });
});
