import { readFile } from 'node:fs/promises';
import type { ClientMetadata } from 'oidc-provider';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, type Config } from './config.ts';
import { forbiddenGrantTypes, grantTypesProblem } from './policies/client-registration.ts';
import { dpopModes } from './policies/dpop.ts';
import type { ProtectedResource } from './policies/resources.ts';
import { TOKEN_EXCHANGE } from './token-exchange/grant.ts';

/**
 * What the operator declares rather than what clients register: the protected resources
 * (RESOURCES_FILE, else the RESOURCE_* variables) and the pre-registered clients
 * (CLIENTS_FILE). Both YAML or JSON, validated here so a typo stops start-up with its path.
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
        token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).default('client_secret_basic'),
        grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).default(['client_credentials']),
        redirect_uris: z.array(z.string()).default([]),
        /** May call the introspection endpoint (a resource server). */
        introspection: z.boolean().default(false),
        /** May exchange users' access tokens for these resources for their upstream IdP tokens (RFC 8693; a resource server). */
        token_exchange: z.object({ resources: z.array(z.url({ protocol: /^https?$/ })).min(1) }).optional(),
      })
      .refine(
        (client) => client.token_endpoint_auth_method === 'none' || client.client_secret || client.client_secret_env,
        'a confidential client needs client_secret or client_secret_env',
      )
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
}

export async function loadStaticClients(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<StaticClients> {
  if (!config.clientsFile) return { metadata: [], introspectors: new Set(), exchangers: new Map() };
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
  return { metadata, introspectors, exchangers };
}
