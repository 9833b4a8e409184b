import { readFile } from 'node:fs/promises';
import type { ClientMetadata } from 'oidc-provider';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, type Config } from './config.ts';
import { publicJwkProblem } from './policies/client-keys.ts';
import { forbiddenGrantTypes, grantTypesProblem } from './policies/client-registration.ts';
import { dpopModes } from './policies/dpop.ts';
import { canonicalResource, type ProtectedResource } from './policies/resources.ts';
import { JWT_BEARER } from './jwt-bearer/grant-type.ts';
import { TOKEN_EXCHANGE } from './token-exchange/grant.ts';

/**
 * What the operator declares rather than what clients register: the protected resources
 * (RESOURCES_FILE, else the RESOURCE_* variables) and the pre-registered clients
 * (CLIENTS_FILE), and whose assertions the JWT bearer grant accepts (ENTERPRISE_IDPS_FILE,
 * WORKLOAD_ISSUERS_FILE). All YAML or JSON, validated here so a typo stops start-up with its path.
 */

const scopeList = z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'not a valid scope token')).min(1);

const resourcesSchema = z.object({
  resources: z
    .array(
      z
        .object({
          url: z.url({ protocol: /^https?$/ }).refine((url) => !url.includes('#') && !url.includes('?'), 'must have no query or fragment'),
          scopes: scopeList,
          default_scopes: scopeList.optional(),
          access_token_ttl: z.number().int().positive().default(600),
          access_token_format: z.enum(['jwt', 'opaque']).default('jwt'),
          dpop: z.enum(dpopModes).default('optional'),
        })
        .refine((resource) => (resource.default_scopes ?? []).every((scope) => resource.scopes.includes(scope)), 'default_scopes must be a subset of scopes'),
    )
    .min(1),
});

const clientsSchema = z.object({
  clients: z.array(
    z
      .looseObject({
        client_id: z.string().min(1),
        client_secret: z.string().min(16).optional(),
        /** Name of the environment variable holding the secret: keeps it out of the file. */
        client_secret_env: z.string().min(1).optional(),
        token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']).default('client_secret_basic'),
        /** private_key_jwt: the client's public keys, inline (policies/client-keys.ts)… */
        jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
        /** …or where the operator publishes them: fetched by oidc-provider, without the address guard (the operator chose it). */
        jwks_uri: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
        grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', JWT_BEARER])).default(['client_credentials']),
        redirect_uris: z.array(z.string()).default([]),
        /** May call the introspection endpoint (a resource server). */
        introspection: z.boolean().default(false),
        /** May exchange users' access tokens for these resources for their upstream IdP tokens (RFC 8693; a resource server). */
        token_exchange: z.object({ resources: z.array(z.url({ protocol: /^https?$/ })).min(1) }).optional(),
      })
      .refine(
        (client) => ['none', 'private_key_jwt'].includes(client.token_endpoint_auth_method) || client.client_secret || client.client_secret_env,
        'a confidential client needs client_secret or client_secret_env (or token_endpoint_auth_method private_key_jwt with jwks or jwks_uri)',
      )
      .superRefine((client, ctx) => {
        for (const problem of clientKeyProblems(client))
          ctx.addIssue({ code: 'custom', path: problem.path, message: `client ${client.client_id}: ${problem.message}` });
      })
      .refine((client) => !client.token_exchange || client.token_endpoint_auth_method !== 'none', {
        path: ['token_exchange'],
        error: 'token exchange needs a confidential client',
      })
      .superRefine((client, ctx) => {
        const forbidden = forbiddenGrantTypes('configured', client);
        if (forbidden.length)
          ctx.addIssue({ code: 'custom', path: ['grant_types'], message: `client ${client.client_id}: ${grantTypesProblem('configured', forbidden)}` });
      }),
  ),
});

/** A private_key_jwt client has public keys (one of jwks, jwks_uri) and no secret; other clients have no keys. */
function clientKeyProblems(client: {
  token_endpoint_auth_method: string;
  client_secret?: string | undefined;
  client_secret_env?: string | undefined;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  jwks_uri?: string | undefined;
}): { path: (string | number)[]; message: string }[] {
  if (client.token_endpoint_auth_method !== 'private_key_jwt') {
    return client.jwks || client.jwks_uri
      ? [{ path: [client.jwks ? 'jwks' : 'jwks_uri'], message: 'keys are used only with token_endpoint_auth_method private_key_jwt' }]
      : [];
  }
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (client.client_secret || client.client_secret_env)
    problems.push({ path: ['client_secret'], message: 'a private_key_jwt client has no secret: remove client_secret / client_secret_env' });
  if (Boolean(client.jwks) === Boolean(client.jwks_uri))
    problems.push({ path: ['jwks'], message: 'private_key_jwt needs the public keys: exactly one of jwks or jwks_uri' });
  client.jwks?.keys.forEach((jwk, index) => {
    const problem = publicJwkProblem(jwk);
    if (problem) problems.push({ path: ['jwks', 'keys', index], message: `jwks.keys[${index}] ${problem}` });
  });
  return problems;
}

async function readStructured(file: string, variable: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code}); fix the path or unset ${variable}`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new ConfigError(`${variable}: ${file} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

function explain(variable: string, file: string, error: z.ZodError): Error {
  return new ConfigError(`${variable}: ${file}: ${error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
}

export async function loadResources(config: Config): Promise<ProtectedResource[]> {
  if (!config.resourcesFile) return [config.resource];
  const parsed = resourcesSchema.safeParse(await readStructured(config.resourcesFile, 'RESOURCES_FILE'));
  if (!parsed.success) throw explain('RESOURCES_FILE', config.resourcesFile, parsed.error);
  return parsed.data.resources.map((resource) => ({
    url: resource.url.replace(/\/+$/, ''),
    scopes: resource.scopes,
    defaultScopes: resource.default_scopes ?? resource.scopes,
    accessTokenTtl: resource.access_token_ttl,
    accessTokenFormat: resource.access_token_format,
    dpop: resource.dpop,
  }));
}

export interface StaticClients {
  metadata: ClientMetadata[];
  /** Client ids allowed to introspect tokens. */
  introspectors: Set<string>;
  /** Client id → the resources whose access tokens it may exchange for upstream tokens. */
  exchangers: Map<string, string[]>;
  /** The private_key_jwt clients' `jwks_uri`s, normalised: the operator's URLs, fetched without the address guard. */
  keyUrls: Set<string>;
}

export async function loadStaticClients(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<StaticClients> {
  if (!config.clientsFile) return { metadata: [], introspectors: new Set(), exchangers: new Map(), keyUrls: new Set() };
  const parsed = clientsSchema.safeParse(await readStructured(config.clientsFile, 'CLIENTS_FILE'));
  if (!parsed.success) throw explain('CLIENTS_FILE', config.clientsFile, parsed.error);
  const introspectors = new Set<string>();
  const exchangers = new Map<string, string[]>();
  const metadata = parsed.data.clients.map(({ client_secret_env, introspection, token_exchange, ...client }): ClientMetadata => {
    if (introspection) introspectors.add(client.client_id);
    if (token_exchange) {
      exchangers.set(
        client.client_id,
        token_exchange.resources.map((url) => url.replace(/\/+$/, '')),
      );
      (client as { grant_types: string[] }).grant_types = [...client.grant_types, TOKEN_EXCHANGE];
    }
    if (client_secret_env) {
      const secret = env[client_secret_env];
      if (!secret) throw new ConfigError(`CLIENTS_FILE: client ${client.client_id}: its secret comes from ${client_secret_env}, which is not set`);
      client.client_secret = secret;
    }
    return { response_types: client.grant_types.includes('authorization_code') ? ['code'] : [], ...client };
  });
  const keyUrls = new Set(parsed.data.clients.flatMap((client) => (client.jwks_uri ? [new URL(client.jwks_uri).href] : [])));
  return { metadata, introspectors, exchangers, keyUrls };
}

/**
 * Where an assertion issuer's keys are fetched: https, or http on a loopback host (dev-idp, a
 * test's issuer). The operator writes these URLs, so they are fetched without the guard that
 * keeps client-chosen URLs off private addresses (README, Security rules).
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const keysUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).refine((value) => {
  const url = new URL(value);
  return url.protocol === 'https:' || LOOPBACK_HOSTS.has(url.hostname);
}, 'must be an https URL (http only on a loopback host, for development)');

/** Compared with an assertion's `iss` exactly, as written: not always a URL (SPIFFE trust domains are `spiffe://…`). */
const issuerName = z.string().min(1);

function uniqueBy<T>(key: (item: T) => string, what: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      if (seen.has(key(item))) ctx.addIssue({ code: 'custom', path: [index], message: `${what} ${key(item)} is listed twice` });
      seen.add(key(item));
    });
  };
}

// Strict objects: a misspelt optional key (`audiance`) stops start-up instead of being ignored.
const enterpriseIdpsSchema = z.strictObject({
  enterprise_idps: z
    .array(
      z.strictObject({
        issuer: issuerName,
        jwks_uri: keysUrl,
        /** CLIENTS_FILE clients that may redeem this IdP's ID-JAGs. */
        clients: z.array(z.string().min(1)).min(1),
      }),
    )
    .min(1)
    .superRefine(uniqueBy((idp) => idp.issuer, 'issuer')),
});

const workloadIssuersSchema = z.strictObject({
  workload_issuers: z
    .array(
      z.strictObject({
        issuer: issuerName,
        jwks_uri: keysUrl,
        /** The `aud` the workload's token must carry; default: this server's issuer. */
        audience: z.string().min(1).optional(),
        subjects: z
          .array(z.string().min(1))
          .min(1)
          .refine((subjects) => !subjects.includes('*') || subjects.length === 1, 'list exact subjects, or "*" alone for every subject of the issuer'),
        /** The CLIENTS_FILE machine client the workload's tokens are issued to. */
        client_id: z.string().min(1),
        resource: z.url({ protocol: /^https?$/ }),
        scopes: scopeList,
      }),
    )
    .min(1)
    .superRefine(uniqueBy((entry) => `${entry.issuer} → ${entry.client_id}`, 'issuer and client')),
});

export interface EnterpriseIdpEntry {
  issuer: string;
  jwksUri: string;
  clients: string[];
}

export interface WorkloadIssuerEntry {
  issuer: string;
  jwksUri: string;
  audience: string;
  /** `*`: every subject the issuer names. */
  subjects: '*' | string[];
  clientId: string;
  /** The configured resource's own URL (the token audience). */
  resource: string;
  scopes: string[];
}

/** The issuers whose assertions the JWT bearer grant accepts; absent when neither file is set (the grant is then not offered). */
export interface AssertionIssuers {
  enterpriseIdps: EnterpriseIdpEntry[];
  workloadIssuers: WorkloadIssuerEntry[];
}

/**
 * ENTERPRISE_IDPS_FILE and WORKLOAD_ISSUERS_FILE, held against CLIENTS_FILE and the resources:
 * every client they name holds the jwt-bearer grant, an enterprise client authenticates (an
 * ID-JAG is a user's grant: a client that proves nothing could redeem anyone's), a workload's
 * resource and scopes are configured ones; and every client holding the grant is named.
 */
export async function loadAssertionIssuers(config: Config, clients: StaticClients, resources: ProtectedResource[]): Promise<AssertionIssuers | undefined> {
  const byId = new Map(clients.metadata.map((client) => [client.client_id, client]));
  const named = new Set<string>();
  const holdsGrant = (clientId: string) => byId.get(clientId)?.grant_types?.includes(JWT_BEARER) === true;
  const clientProblem = (clientId: string) =>
    !byId.has(clientId)
      ? `${clientId} is not a CLIENTS_FILE client`
      : !holdsGrant(clientId)
        ? `client ${clientId} does not list ${JWT_BEARER} in its grant_types (CLIENTS_FILE)`
        : undefined;

  const enterpriseIdps: EnterpriseIdpEntry[] = [];
  if (config.enterpriseIdpsFile) {
    const file = config.enterpriseIdpsFile;
    const parsed = enterpriseIdpsSchema.safeParse(await readStructured(file, 'ENTERPRISE_IDPS_FILE'));
    if (!parsed.success) throw explain('ENTERPRISE_IDPS_FILE', file, parsed.error);
    parsed.data.enterprise_idps.forEach((idp, index) => {
      idp.clients.forEach((clientId, position) => {
        const problem =
          clientProblem(clientId) ??
          (byId.get(clientId)?.token_endpoint_auth_method === 'none'
            ? `client ${clientId} is public (token_endpoint_auth_method none): an ID-JAG is redeemed only by a client that authenticates (client_secret_basic, client_secret_post, private_key_jwt)`
            : undefined);
        if (problem) throw new ConfigError(`ENTERPRISE_IDPS_FILE: ${file}: enterprise_idps.${index}.clients.${position}: ${problem}`);
        named.add(clientId);
      });
      enterpriseIdps.push({ issuer: idp.issuer, jwksUri: idp.jwks_uri, clients: idp.clients });
    });
  }

  const workloadIssuers: WorkloadIssuerEntry[] = [];
  if (config.workloadIssuersFile) {
    const file = config.workloadIssuersFile;
    const parsed = workloadIssuersSchema.safeParse(await readStructured(file, 'WORKLOAD_ISSUERS_FILE'));
    if (!parsed.success) throw explain('WORKLOAD_ISSUERS_FILE', file, parsed.error);
    parsed.data.workload_issuers.forEach((entry, index) => {
      const where = `WORKLOAD_ISSUERS_FILE: ${file}: workload_issuers.${index}`;
      const problem = clientProblem(entry.client_id);
      if (problem) throw new ConfigError(`${where}.client_id: ${problem}`);
      const resource = resources.find((candidate) => canonicalResource(candidate.url) === canonicalResource(entry.resource));
      if (!resource) throw new ConfigError(`${where}.resource: ${entry.resource} is not a resource of this server (RESOURCE_URL or RESOURCES_FILE)`);
      const unknown = entry.scopes.filter((scope) => !resource.scopes.includes(scope));
      if (unknown.length)
        throw new ConfigError(`${where}.scopes: ${unknown.join(', ')} not among the scopes of ${resource.url} (${resource.scopes.join(' ')})`);
      named.add(entry.client_id);
      workloadIssuers.push({
        issuer: entry.issuer,
        jwksUri: entry.jwks_uri,
        audience: entry.audience ?? config.issuer,
        subjects: entry.subjects[0] === '*' ? '*' : entry.subjects,
        clientId: entry.client_id,
        resource: resource.url,
        scopes: entry.scopes,
      });
    });
  }

  // A client holding the grant with no issuer to redeem: a mistake in one of the files, and
  // without either file oidc-provider would not know the grant type and refuse the client.
  for (const client of clients.metadata) {
    if (holdsGrant(client.client_id) && !named.has(client.client_id)) {
      throw new ConfigError(
        `CLIENTS_FILE: client ${client.client_id}: grant_types lists ${JWT_BEARER}, but no entry of ENTERPRISE_IDPS_FILE or WORKLOAD_ISSUERS_FILE names this client`,
      );
    }
  }
  return enterpriseIdps.length || workloadIssuers.length ? { enterpriseIdps, workloadIssuers } : undefined;
}
