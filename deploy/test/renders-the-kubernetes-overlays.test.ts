/**
 * No cluster runs where these tests run, so deploy/kubernetes is checked the way the compose
 * file is: each overlay is rendered as an operator would (make-secrets.ts, then `kubectl
 * kustomize`), every object is validated against the Kubernetes API schemas of the
 * kubernetes-models package, and the servers' own configuration loaders are run on the
 * environment and files each Deployment gives its container — so a manifest that would
 * not start, or would start wired to the wrong URL, fails here.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig as loadAuthConfig, type Config as AuthConfig } from '../../auth-server/src/config.ts';
import { loadResources, loadStaticClients } from '../../auth-server/src/registry.ts';
import { parseDexConfig } from '../../dev-idp/src/dex-config.ts';
import { loadConfig as loadResourceConfig, type Config as ResourceConfig } from '../../resource-server/src/config.ts';
import { makeSecrets } from '../kubernetes/make-secrets.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
/** oidc-provider's drain after the grace period (auth-server/src/server.ts SHUTDOWN_DRAIN_MS). */
const DRAIN_SECONDS = 30;

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a manifest read field by field, after kubernetes-models validated it (see eslint.config.js)
  [key: string]: any;
};

interface Rendered {
  objects: K8sObject[];
  get(kind: string, name: string): K8sObject;
  /** A Service, Secret or ConfigMap by the name before kustomize's hash suffix. */
  generated(kind: string, name: string): K8sObject;
  dir: string;
}

let work: string;
const rendered: Record<'dev' | 'production', Rendered> = {} as never;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'k8s-render-'));
  await cp(resolve(root, 'deploy', 'kubernetes'), work, { recursive: true, filter: (source) => !source.includes('/secrets') });
  for (const overlay of ['dev', 'production'] as const) {
    await makeSecrets(join(work, overlay), () => {});
    if (overlay === 'production') await writeFile(join(work, overlay, 'secrets', 'redis-password'), 'redis-test-password');
    const { stdout } = await run('kubectl', ['kustomize', join(work, overlay)], { maxBuffer: 16 * 1024 * 1024 }).catch((error: unknown) => {
      throw (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? new Error('kubectl is needed to render the overlays (kubectl kustomize); it comes with the CI machine image')
        : error;
    });
    const objects = parseAllDocuments(stdout).map((document) => document.toJS() as K8sObject);
    rendered[overlay] = {
      objects,
      dir: join(work, overlay),
      get(kind, name) {
        const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
        if (!found) throw new Error(`${overlay}: no ${kind} ${name}`);
        return found;
      },
      generated(kind, name) {
        const found = objects.find((object) => object.kind === kind && (object.metadata.name === name || object.metadata.name.startsWith(`${name}-`)));
        if (!found) throw new Error(`${overlay}: no ${kind} ${name}`);
        return found;
      },
    };
  }
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** The schema class of kubernetes-models for an object, e.g. apps/v1 Deployment. */
async function schemaFor(object: K8sObject) {
  const module = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return Model;
}

/** A container's environment as the kubelet would give it: values, and Secret and ConfigMap keys resolved. */
function environment(overlay: Rendered, container: K8sObject): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if ('value' in entry) env[entry.name] = String(entry.value);
    else if (entry.valueFrom?.secretKeyRef) {
      const { name, key } = entry.valueFrom.secretKeyRef;
      const secret = overlay.get('Secret', name);
      env[entry.name] = Buffer.from(secret.data[key], 'base64').toString('utf8');
    } else throw new Error(`unresolved env ${entry.name}`);
  }
  return env;
}

/** Writes each ConfigMap volume's files to disk and points the variables naming them there. */
async function mountConfigMaps(overlay: Rendered, pod: K8sObject, container: K8sObject, env: Record<string, string>, into: string) {
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes.find((candidate: K8sObject) => candidate.name === mount.name);
    if (!volume?.configMap) continue;
    const configMap = overlay.get('ConfigMap', volume.configMap.name);
    for (const [file, content] of Object.entries(configMap.data as Record<string, string>)) {
      const local = join(into, mount.mountPath, file);
      await mkdir(dirname(local), { recursive: true });
      await writeFile(local, content);
      for (const [name, value] of Object.entries(env)) if (value === `${mount.mountPath}/${file}`) env[name] = local;
    }
  }
}

/**
 * kustomize wraps a long Secret value's base64 over several lines; the API server's base64
 * decoder (Go's) skips line breaks, the schema's `byte` format does not.
 */
function asTheApiServerReadsIt(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || !object.data) return object;
  return { ...object, data: Object.fromEntries(Object.entries(object.data as Record<string, string>).map(([key, value]) => [key, value.replace(/\s+/g, '')])) };
}

function containerOf(deployment: K8sObject) {
  return deployment.spec.template.spec.containers[0];
}

describe.each(['dev', 'production'] as const)('the %s overlay', (name) => {
  let overlay: Rendered;
  let auth: AuthConfig;
  let resource: ResourceConfig;
  let authEnv: Record<string, string>;
  let resourceEnv: Record<string, string>;

  beforeAll(async () => {
    overlay = rendered[name];
    const authDeployment = overlay.get('Deployment', 'auth-server');
    authEnv = environment(overlay, containerOf(authDeployment));
    await mountConfigMaps(overlay, authDeployment.spec.template.spec, containerOf(authDeployment), authEnv, join(work, `${name}-mounts`));
    auth = loadAuthConfig(authEnv);
    resourceEnv = environment(overlay, containerOf(overlay.get('Deployment', 'resource-server')));
    resource = loadResourceConfig(resourceEnv);
  });

  it('renders only objects that the Kubernetes API schemas accept, all in one namespace', async () => {
    expect(overlay.objects.length).toBeGreaterThan(10);
    const namespace = overlay.objects.find((object) => object.kind === 'Namespace')!.metadata.name;
    for (const object of overlay.objects) {
      const Model = await schemaFor(object);
      expect(() => new Model(asTheApiServerReadsIt(object)).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
      if (object.kind !== 'Namespace') expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(namespace);
    }
  });

  it('runs two replicas of each server with rolling updates, probes, resources, non-root and a read-only root file system', () => {
    for (const [server, config] of [
      ['auth-server', auth],
      ['resource-server', resource],
    ] as const) {
      const deployment = overlay.get('Deployment', server);
      const pod = deployment.spec.template.spec;
      const container = containerOf(deployment);
      expect(deployment.spec.replicas).toBe(2);
      expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      const http = container.ports.find((port: K8sObject) => port.name === 'http');
      expect(http.containerPort).toBe(config.port);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.resources.limits.memory).toEqual(expect.any(String));
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      // The drain fits the pod's grace period, and readiness fails before the grace period ends.
      const graceSeconds = config.shutdownGraceMs / 1000;
      expect(graceSeconds).toBeGreaterThan(container.readinessProbe.periodSeconds * container.readinessProbe.failureThreshold);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(graceSeconds + DRAIN_SECONDS);
      // Metrics on, reachable by a scraper in the cluster, on the port the pod declares and announces.
      const metrics = container.ports.find((port: K8sObject) => port.name === 'metrics');
      expect(config.metrics).toEqual({ host: '0.0.0.0', port: metrics.containerPort });
      expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(metrics.containerPort));
    }
  });

  it('keeps every server pod available through drains and scales each between two and more', () => {
    for (const server of ['auth-server', 'resource-server']) {
      const labels = overlay.get('Deployment', server).spec.template.metadata.labels;
      const budget = overlay.get('PodDisruptionBudget', server);
      expect(Object.entries(budget.spec.selector.matchLabels).every(([key, value]) => labels[key] === value)).toBe(true);
      expect(budget.spec.minAvailable).toBe(1);
      const autoscaler = overlay.get('HorizontalPodAutoscaler', server);
      expect(autoscaler.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: server });
      expect(autoscaler.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(autoscaler.spec.maxReplicas).toBeGreaterThan(autoscaler.spec.minReplicas);
    }
  });

  it('serves each public URL through its own Ingress, with TLS exactly when the URL is https', () => {
    const ingresses = overlay.objects.filter((object) => object.kind === 'Ingress');
    const routes = (ingress: K8sObject) => ingress.spec.rules.map((rule: K8sObject) => ({ host: rule.host, service: rule.http.paths[0].backend.service.name }));
    const byHost = new Map<string, { host: string; service: string; ingress: K8sObject }>(
      ingresses.flatMap((ingress) => routes(ingress).map((route: { host: string; service: string }) => [route.host, { ...route, ingress }] as const)),
    );
    for (const [url, service] of [
      [auth.issuer, 'auth-server'],
      [resource.resourceUrl, 'resource-server'],
    ] as const) {
      const { hostname, protocol } = new URL(url);
      const route = byHost.get(hostname);
      expect(route?.service, url).toBe(service);
      expect(Boolean(route!.ingress.spec.tls?.some((tls: K8sObject) => tls.hosts.includes(hostname)))).toBe(protocol === 'https:');
      const servicePort = overlay.get('Service', service).spec.ports.find((port: K8sObject) => port.name === 'http');
      expect(route!.ingress.spec.rules[0].http.paths[0].backend.service.port).toEqual({ name: servicePort.name });
    }
    expect(auth.secureCookies).toBe(name === 'production');
  });

  it('points the resource server at the auth server over its Service, and both at the same resource, client and secret', async () => {
    expect(resource.authServer.issuer).toBe(auth.issuer);
    const internal = new URL(resource.authServer.internalUrl!);
    const service = overlay.get('Service', internal.hostname);
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'auth-server' });
    expect(service.spec.ports.find((port: K8sObject) => port.name === 'http').port).toBe(Number(internal.port));
    const resources = await loadResources(auth);
    expect(resources.map((entry) => entry.url)).toEqual([resource.resourceUrl]);
    const clients = await loadStaticClients(auth, authEnv);
    expect(clients.exchangers.get(resource.upstream.exchangeClient!.clientId)).toEqual([resource.resourceUrl]);
    expect(resource.upstream.exchangeClient!.clientSecret).toBe(authEnv.RESOURCE_SERVER_CLIENT_SECRET);
    expect(resource.upstream.issuer).toBe(auth.idp.issuer);
  });

  it('gives the auth server its key set from the Secret, the same for every replica', async () => {
    const keys = JSON.parse(auth.signingKeysJson!) as { signingKeys: unknown[]; cookieKeys: unknown[]; encryptionKeys: unknown[] };
    expect(keys.signingKeys).toHaveLength(1);
    expect(keys.cookieKeys).toHaveLength(1);
    expect(keys.encryptionKeys).toHaveLength(1);
    const reference = containerOf(overlay.get('Deployment', 'auth-server')).env.find((entry: K8sObject) => entry.name === 'SIGNING_KEYS');
    expect(reference.valueFrom.secretKeyRef.name).toMatch(/^signing-keys-/);
  });

  it('lets each server reach only what it needs: the auth server the IdP and Redis, the resource server the auth server, Redis and the IdP (upstream_profile)', () => {
    const peers = (server: string) => {
      const policy = overlay.get('NetworkPolicy', server);
      expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      return (policy.spec.egress as K8sObject[]).flatMap((rule) => {
        expect(rule.to?.length, `${server}: an egress rule without destinations allows everything`).toBeGreaterThan(0);
        return rule.to.map((peer: K8sObject) => {
          const ports = rule.ports.map((port: K8sObject) => port.port).join('+');
          if (peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns') return `dns:${ports}`;
          if (peer.podSelector) return `${peer.podSelector.matchLabels['app.kubernetes.io/name']}:${ports}`;
          return `${peer.ipBlock.cidr}:${ports}`;
        });
      });
    };
    const redis = name === 'dev' ? ['redis:6379'] : ['10.20.0.0/24:6379+26379'];
    const idp = name === 'dev' ? ['dex:5556'] : ['0.0.0.0/0:443'];
    expect(peers('auth-server').sort()).toEqual(['dns:53+53', ...redis, ...idp].sort());
    expect(peers('resource-server').sort()).toEqual(['dns:53+53', 'auth-server:4000', ...redis, ...idp].sort());
    if (name === 'production') {
      // The public range for the IdP leaves the cluster's private ranges out.
      const internet = overlay.get('NetworkPolicy', 'auth-server').spec.egress.find((rule: K8sObject) => rule.to[0].ipBlock?.cidr === '0.0.0.0/0');
      expect(internet.to[0].ipBlock.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']));
    }
  });

  if (name === 'dev') {
    it('runs Redis and Dex in the cluster, where the servers find them, Dex with the auth server’s client and callback', () => {
      expect(auth.store).toEqual({ kind: 'redis', url: 'redis://redis:6379' });
      expect(resource.store).toMatchObject({ kind: 'redis', url: 'redis://redis:6379' });
      expect(overlay.get('Service', 'redis').spec.ports[0].port).toBe(6379);
      const dexConfigMap = overlay.get(
        'ConfigMap',
        overlay.get('Deployment', 'dex').spec.template.spec.volumes.find((volume: K8sObject) => volume.configMap).configMap.name,
      );
      const dexEnv = environment(overlay, containerOf(overlay.get('Deployment', 'dex')));
      expect(dexEnv.IDP_CLIENT_SECRET).toBe(auth.idp.clientSecret);
      const dex = parseDexConfig(dexConfigMap.data['config.yaml'], dexEnv);
      expect(dex.issuer).toBe(auth.idp.issuer);
      const client = dex.staticClients.find((candidate) => candidate.id === auth.idp.clientId)!;
      expect(client.secret).toBe(auth.idp.clientSecret);
      expect(client.redirectURIs).toEqual([auth.idp.redirectUri]);
      const internal = new URL(auth.idp.internalUrl!);
      expect(overlay.get('Service', internal.hostname).spec.ports[0].port).toBe(Number(internal.port));
      expect(containerOf(overlay.get('Deployment', 'dex')).args.at(-1)).toBe(
        `${containerOf(overlay.get('Deployment', 'dex')).volumeMounts[0].mountPath}/config.yaml`,
      );
      const dexIngress = overlay.get('Ingress', 'dex').spec.rules[0];
      expect(dexIngress.host).toBe(new URL(dex.issuer).hostname);
      expect(dexIngress.http.paths[0].path).toBe(new URL(dex.issuer).pathname);
      expect(containerOf(overlay.get('Deployment', 'dex')).image).toBe('ghcr.io/dexidp/dex:v2.45.1');
      // The same demo users as dex/config.yaml (docker compose, dev-idp).
      const repository = parseDexConfig(readFileSync(resolve(root, 'dex', 'config.yaml'), 'utf8'), dexEnv);
      expect(dex.staticPasswords).toEqual(repository.staticPasswords);
    });
  } else {
    it('finds the external Redis through its Sentinels, with the password from a Secret, and signs in at the external IdP', () => {
      for (const store of [auth.store, resource.store]) {
        expect(store).toMatchObject({ kind: 'redis', sentinel: { name: 'mcp', password: 'redis-test-password', tls: false } });
        expect((store as { sentinel: { nodes: unknown[] } }).sentinel.nodes).toHaveLength(3);
      }
      expect(resource.revokedGrants).toMatchObject({ kind: 'redis', target: { sentinel: { name: 'mcp' } } });
      expect(new URL(auth.idp.issuer).protocol).toBe('https:');
      expect(auth.idp.internalUrl).toBeUndefined();
      expect(overlay.objects.some((object) => object.metadata.name === 'dex' || (object.metadata.name === 'redis' && object.kind !== 'Secret'))).toBe(false);
    });
  }
});

it('commits no Secret material: the secrets/ folders are ignored by git', async () => {
  const { stdout } = await run('git', ['ls-files', 'deploy/kubernetes'], { cwd: root });
  expect(stdout.split('\n').filter((file) => file.includes('/secrets/'))).toEqual([]);
  const { stdout: ignored } = await run(
    'git',
    ['check-ignore', 'deploy/kubernetes/dev/secrets/signing-keys.json', 'deploy/kubernetes/production/secrets/redis-password'],
    { cwd: root },
  );
  expect(ignored.trim().split('\n')).toHaveLength(2);
});
