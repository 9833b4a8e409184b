// Dex's own configuration format (the subset dev-idp serves), parsed and validated.
//
// dev-idp reads the same dex/config.yaml as Dex in docker compose, so both serve the same
// issuer, static clients and static users. Keys Dex knows but dev-idp has no use for
// (storage, web, oauth2, connectors, ...) are accepted and ignored.

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface DexStaticClient {
  id: string;
  name: string | undefined;
  /** Resolved secret (from `secret`, or from the variable named by `secretEnv`); undefined for public clients. */
  secret: string | undefined;
  redirectURIs: string[];
  public: boolean;
}

export interface DexStaticPassword {
  email: string;
  /** bcrypt hash, as Dex stores it. */
  hash: string;
  username: string;
  userID: string;
}

export interface DexConfig {
  issuer: string;
  staticClients: DexStaticClient[];
  staticPasswords: DexStaticPassword[];
  enablePasswordDB: boolean;
}

export class DexConfigError extends Error {
  override name = 'DexConfigError';
}

export type Env = Readonly<Record<string, string | undefined>>;

const bcryptHash = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;

const httpUrl = z.string().refine((value) => {
  const url = URL.parse(value);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:');
}, 'must be an absolute http(s) URL');

const staticClientSchema = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
  secret: z.string().min(1).optional(),
  secretEnv: z.string().min(1).optional(),
  redirectURIs: z.array(httpUrl).default([]),
  public: z.boolean().default(false),
});

const staticPasswordSchema = z
  .object({
    email: z.email(),
    hash: z.string().regex(bcryptHash, 'must be a bcrypt hash').optional(),
    hashFromEnv: z.string().min(1).optional(),
    username: z.string().min(1),
    userID: z.string().min(1),
  })
  .refine((p) => (p.hash === undefined) !== (p.hashFromEnv === undefined), {
    error: 'exactly one of hash or hashFromEnv is required',
  });

const dexSchema = z.object({
  issuer: httpUrl,
  staticClients: z.array(staticClientSchema).default([]),
  staticPasswords: z.array(staticPasswordSchema).default([]),
  enablePasswordDB: z.boolean().default(false),
});

function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}

/**
 * Parses Dex YAML text into a validated DexConfig. `secretEnv` / `hashFromEnv` are resolved
 * from `env` (process.env by default); a missing variable is an error naming it.
 * `source` names the file in error messages.
 */
export function parseDexConfig(text: string, env: Env = process.env, source = 'Dex config'): DexConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new DexConfigError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  const parsed = dexSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new DexConfigError(`${source}: ${formatIssues(parsed.error)}`);
  }
  const dex = parsed.data;

  const seenClients = new Set<string>();
  const staticClients = dex.staticClients.map((client, i): DexStaticClient => {
    const where = `${source}: staticClients[${i}] (${client.id})`;
    if (seenClients.has(client.id)) throw new DexConfigError(`${where}: duplicate client id`);
    seenClients.add(client.id);
    if (client.secret !== undefined && client.secretEnv !== undefined) {
      throw new DexConfigError(`${where}: set either secret or secretEnv, not both`);
    }
    let secret = client.secret;
    if (client.secretEnv !== undefined) {
      secret = env[client.secretEnv];
      if (secret === undefined || secret === '') {
        throw new DexConfigError(`${where}: its secret comes from the environment variable ${client.secretEnv}, which is not set`);
      }
    }
    if (!client.public && secret === undefined) {
      throw new DexConfigError(`${where}: a confidential client needs secret or secretEnv (or public: true)`);
    }
    if (client.redirectURIs.length === 0) {
      throw new DexConfigError(`${where}: redirectURIs must list at least one URI`);
    }
    return {
      id: client.id,
      name: client.name,
      secret: client.public ? undefined : secret,
      redirectURIs: client.redirectURIs,
      public: client.public,
    };
  });

  const seenEmails = new Set<string>();
  const seenIds = new Set<string>();
  const staticPasswords = dex.staticPasswords.map((user, i): DexStaticPassword => {
    const where = `${source}: staticPasswords[${i}] (${user.email})`;
    const email = user.email.toLowerCase();
    if (seenEmails.has(email)) throw new DexConfigError(`${where}: duplicate email`);
    if (seenIds.has(user.userID)) throw new DexConfigError(`${where}: duplicate userID`);
    seenEmails.add(email);
    seenIds.add(user.userID);
    let hash = user.hash;
    if (user.hashFromEnv !== undefined) {
      hash = env[user.hashFromEnv];
      if (hash === undefined || hash === '') {
        throw new DexConfigError(`${where}: its hash comes from the environment variable ${user.hashFromEnv}, which is not set`);
      }
      if (!bcryptHash.test(hash)) {
        throw new DexConfigError(`${where}: the environment variable ${user.hashFromEnv} is not a bcrypt hash`);
      }
    }
    return { email: user.email, hash: hash as string, username: user.username, userID: user.userID };
  });

  return {
    issuer: dex.issuer.replace(/\/+$/, ''),
    staticClients,
    staticPasswords,
    enablePasswordDB: dex.enablePasswordDB,
  };
}

/** Reads and parses a Dex config file. */
export async function loadDexConfig(path: string, env: Env = process.env): Promise<DexConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DexConfigError(`cannot read Dex config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseDexConfig(text, env, path);
}
