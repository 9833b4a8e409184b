/**
 * No Docker engine runs where these tests run, so docker-compose.yml is checked the only
 * way possible here: parsed, and held against dex/config.yaml and the services' own
 * configuration loaders, so that a change to one that breaks `docker compose up` fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig as loadAuthConfig } from '../src/config.ts';
import { loadConfig as loadResourceConfig } from '../../resource-server/src/config.ts';
import { parseDexConfig } from '../../dev-idp/src/dex-config.ts';
import { loadStaticClients } from '../src/registry.ts';

const root = resolve(import.meta.dirname, '..', '..');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      environment?: Record<string, string | number | boolean>;
      ports?: string[];
      volumes?: string[];
      build?: { context: string; dockerfile: string };
      command?: string[];
      image?: string;
      profiles?: string[];
    }
  >;
};
const rawDex = readFileSync(resolve(root, 'dex/config.yaml'), 'utf8');
const SECRET = 'compose-test-secret';
const dex = parseDexConfig(rawDex, { IDP_CLIENT_SECRET: SECRET });
const dexRaw = parse(rawDex) as { web: { http: string }; staticClients: { id: string; secretEnv?: string }[] };

/** Compose interpolates ${IDP_CLIENT_SECRET:?...}; the test supplies the value. */
function environment(service: string): Record<string, string> {
  const env = compose.services[service]!.environment ?? {};
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value).startsWith('${IDP_CLIENT_SECRET') ? SECRET : String(value)]));
}

function publishedPorts(service: string): Map<number, number> {
  return new Map((compose.services[service]!.ports ?? []).map((mapping) => mapping.split(':').map(Number) as [number, number]));
}

const authEnv = environment('auth-server');
const resourceEnv = environment('resource-server');
const auth = loadAuthConfig(authEnv);
const resource = loadResourceConfig(resourceEnv);

describe('docker-compose.yml', () => {
  it('runs the four services of the design, and Prometheus and Grafana in the observability profile', () => {
    const inProfile = (profile: string | undefined) =>
      Object.keys(compose.services)
        .filter((name) => compose.services[name]!.profiles?.[0] === profile)
        .sort();
    expect(inProfile(undefined)).toEqual(['auth-server', 'dex', 'redis', 'resource-server']);
    expect(inProfile('observability')).toEqual(['grafana', 'prometheus']);
    for (const service of ['auth-server', 'resource-server']) {
      const build = compose.services[service]!.build!;
      expect(existsSync(resolve(root, build.context, build.dockerfile))).toBe(true);
    }
  });

  it('mounts dex/config.yaml into Dex and gives Dex and the auth server the same client secret variable', () => {
    const dexService = compose.services.dex!;
    const mount = dexService.volumes!.find((volume) => volume.startsWith('./dex/config.yaml:'))!;
    expect(dexService.command).toContain(mount.split(':')[1]);
    const secretEnv = dexRaw.staticClients[0]!.secretEnv!;
    expect(secretEnv).toBe('IDP_CLIENT_SECRET');
    expect(compose.services.dex!.environment![secretEnv]).toBe(compose.services['auth-server']!.environment![secretEnv]);
  });

  it('points the auth server at the Dex issuer, client and redirect URI of dex/config.yaml', () => {
    expect(auth.idp.issuer).toBe(dex.issuer);
    const client = dex.staticClients.find((candidate) => candidate.id === auth.idp.clientId);
    expect(client).toBeDefined();
    expect(client!.secret).toBe(auth.idp.clientSecret);
    expect(client!.redirectURIs).toContain(auth.idp.redirectUri);
  });

  it('reaches Dex over the compose network on the port Dex listens on and publishes', () => {
    const internal = new URL(auth.idp.internalUrl!);
    expect(internal.hostname).toBe('dex');
    const dexListenPort = Number(dexRaw.web.http.split(':').pop());
    expect(Number(internal.port)).toBe(dexListenPort);
    expect(publishedPorts('dex').get(Number(new URL(dex.issuer).port))).toBe(dexListenPort);
  });

  it('publishes the auth server on its issuer port and lets the resource server trust that issuer', () => {
    const issuerPort = Number(new URL(auth.issuer).port);
    expect(publishedPorts('auth-server').get(issuerPort)).toBe(auth.port);
    expect(resource.authServer.issuer).toBe(auth.issuer);
    const internal = new URL(resource.authServer.internalUrl!);
    expect(internal.hostname).toBe('auth-server');
    expect(Number(internal.port)).toBe(auth.port);
  });

  it('keeps the auth server key set and the Redis data on named volumes', () => {
    const volume = compose.services['auth-server']!.volumes!.find((entry) => entry.endsWith(':/data'))!;
    expect(auth.keysFile.startsWith('/data/')).toBe(true);
    expect(Object.keys((compose as unknown as { volumes: Record<string, unknown> }).volumes)).toContain(volume.split(':')[0]);
    expect(auth.redisUrl).toBe('redis://redis:6379');
  });

  it('lets the resource server exchange tokens at the auth server with one shared secret variable, and reach Dex for userinfo', async () => {
    const authService = compose.services['auth-server']!;
    const mount = authService.volumes!.find((entry) => entry.endsWith(`:${auth.clientsFile}:ro`))!;
    const clients = await loadStaticClients({ ...auth, clientsFile: resolve(root, mount.split(':')[0]!) }, { RESOURCE_SERVER_CLIENT_SECRET: 'compose-test' });
    expect(clients.exchangers.get(resource.upstream.exchangeClient!.clientId)).toEqual([resource.resourceUrl]);
    const secretVariable = compose.services['resource-server']!.environment!.TOKEN_EXCHANGE_CLIENT_SECRET!;
    expect(secretVariable).toMatch(/^\$\{RESOURCE_SERVER_CLIENT_SECRET:\?/);
    expect(authService.environment!.RESOURCE_SERVER_CLIENT_SECRET).toBe(secretVariable);
    expect(resource.upstream.issuer).toBe(dex.issuer);
    expect(new URL(resource.upstream.internalUrl!).origin).toBe(new URL(auth.idp.internalUrl!).origin);
  });

  it('binds tokens to the resource the resource server serves, published on its port', () => {
    expect(auth.resource.url).toBe(resource.resourceUrl);
    const resourcePort = Number(new URL(resource.resourceUrl).port);
    expect(publishedPorts('resource-server').get(resourcePort)).toBe(resource.port);
    expect(auth.host).toBe('0.0.0.0');
    expect(resource.host).toBe('0.0.0.0');
  });
});

describe('docker-compose.yml observability', () => {
  const mounted = (service: string, target: string) => {
    const volume = compose.services[service]!.volumes!.find((entry) => entry.split(':')[1] === target)!;
    return resolve(root, volume.split(':')[0]!);
  };

  it('pins Dex to its release v2.45.1, and every image to a version', () => {
    expect(compose.services.dex!.image).toBe('ghcr.io/dexidp/dex:v2.45.1');
    for (const [name, service] of Object.entries(compose.services)) if (service.image) expect(service.image, name).toMatch(/:v?\d+(\.\d+)*(-alpine)?$/);
  });

  it('turns metrics on in both servers, where Prometheus scrapes them over the compose network', () => {
    expect(auth.metrics).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(resource.metrics).toEqual({ host: '0.0.0.0', port: 9465 });
    const scrape = parse(readFileSync(mounted('prometheus', '/etc/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = Object.fromEntries(scrape.scrape_configs.map((job) => [job.job_name, job.static_configs[0]!.targets]));
    expect(targets).toEqual({ 'auth-server': [`auth-server:${auth.metrics!.port}`], 'resource-server': [`resource-server:${resource.metrics!.port}`] });
    // Not published on the host: only the compose network reaches them.
    expect([...publishedPorts('auth-server').values(), ...publishedPorts('resource-server').values()]).not.toContain(9464);
  });

  it('provisions Grafana with the Prometheus data source and the dashboard', () => {
    const datasources = parse(readFileSync(resolve(mounted('grafana', '/etc/grafana/provisioning'), 'datasources', 'prometheus.yaml'), 'utf8')) as {
      datasources: { uid: string; url: string }[];
    };
    const prometheusPort = Number(compose.services.prometheus!.ports![0]!.split(':').pop());
    expect(datasources.datasources[0]!.url).toBe(`http://prometheus:${prometheusPort}`);
    const providers = parse(readFileSync(resolve(mounted('grafana', '/etc/grafana/provisioning'), 'dashboards', 'dashboards.yaml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(providers.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
    const dashboard = JSON.parse(readFileSync(resolve(mounted('grafana', '/var/lib/grafana/dashboards'), 'mcp-oauth.json'), 'utf8')) as {
      panels: { datasource: { uid: string } }[];
    };
    expect(new Set(dashboard.panels.map((panel) => panel.datasource.uid))).toEqual(new Set([datasources.datasources[0]!.uid]));
  });
});

describe('dex/config.yaml', () => {
  it('serves the demo users of the design', () => {
    expect(dex.staticPasswords.map((user) => user.email)).toEqual(['alice@example.com', 'bob@example.com']);
  });

  it('matches the defaults the services use without any configuration (pnpm start)', () => {
    const defaults = loadAuthConfig({ IDP_CLIENT_SECRET: SECRET });
    expect(defaults.idp.issuer).toBe(dex.issuer);
    expect(loadResourceConfig({}).upstream.issuer).toBe(dex.issuer);
    expect(dex.staticClients.find((client) => client.id === defaults.idp.clientId)!.redirectURIs).toContain(defaults.idp.redirectUri);
  });
});
