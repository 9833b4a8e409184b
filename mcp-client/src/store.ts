/**
 * Per-authorization-server credentials and tokens on disk.
 *
 * Location: `$MCP_CLIENT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/mcp-client`, else
 * `~/.config/mcp-client`. The directory is 0700; each file is 0600 and is replaced
 * atomically (write a temporary file in the same directory, then rename).
 *
 * One file per AS issuer (client identifiers are only meaningful to the AS that issued
 * them, MCP authorization spec "Authorization Server Binding"), named
 * `<host-slug>-<sha256(issuer) prefix>.json`, holding the client registration and the
 * tokens for every resource (MCP server) that AS issued tokens for.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

export const STORE_VERSION = 1;

const ClientSchema = z.object({
  client_id: z.string(),
  client_secret: z.string().optional(),
  client_id_issued_at: z.number().optional(),
  client_secret_expires_at: z.number().optional(),
  /** Registered (or listed) redirect URIs, the one used last first; older files may hold the portless http://127.0.0.1/callback. */
  redirect_uris: z.array(z.string()).optional(),
  token_endpoint_auth_method: z.string().optional(),
  /** RFC 7592, when the AS offers it: where and with what the registration can be updated. */
  registration_client_uri: z.string().optional(),
  registration_access_token: z.string().optional(),
  /** private_key_jwt (--client-key): the absolute path of the private key file, read again to sign each run (the key itself is never stored). */
  client_key_file: z.string().optional(),
  /** --client-key-alg, when given: the algorithm to sign with instead of the key's own. */
  client_key_alg: z.string().optional(),
  /** How we got it: dynamic registration, a Client ID Metadata Document URL, or flags. */
  source: z.enum(['dcr', 'cimd', 'pre-registered']),
  /** ISO time of registration / first use. */
  saved_at: z.string(),
});

const TokensSchema = z.object({
  access_token: z.string(),
  token_type: z.string(),
  refresh_token: z.string().optional(),
  scope: z.string().optional(),
  /** Absolute expiry, epoch milliseconds (from expires_in at receipt). */
  expires_at: z.number().optional(),
  /** ISO time the tokens were received. */
  obtained_at: z.string(),
});

const ResourceEntrySchema = z.object({
  /** The RFC 8707 resource (the PRM `resource`; without PRM, the MCP server URL), also this entry's key. */
  resource: z.string(),
  /** The URL the user gave on the command line. */
  server_url: z.string(),
  /** Where the protected resource metadata was found. */
  resource_metadata_url: z.string().optional(),
  /** How the tokens were obtained; client_credentials and jwt-bearer tokens are re-requested, never refreshed by a user. */
  grant: z.enum(['authorization_code', 'client_credentials', 'jwt-bearer']).optional(),
  /** jwt-bearer with a workload's token (--workload-token-file): the file, read again for each new token (platforms rotate it). */
  workload_token_file: z.string().optional(),
  /** jwt-bearer with an ID-JAG (--enterprise-idp): the enterprise IdP it came from; a new token needs a new sign-in there. */
  enterprise_idp: z.string().optional(),
  /** Found by 2025-03-26 discovery (no protected resource metadata): refresh and logout find the AS that way again. */
  discovery: z.literal('legacy-2025-03-26').optional(),
  /** false: the AS was not sent the resource parameter at login, so it is not sent on refresh either. */
  resource_parameter: z.boolean().optional(),
  tokens: TokensSchema,
});

/**
 * The DPoP key pair for this authorization server (RFC 9449): the private key as a JWK, so
 * this 0600 file is the only place it lives. One key per AS: its DPoP-bound tokens (and a
 * public client's refresh tokens, RFC 9449 §5) only work with proofs from this key.
 */
const DpopKeySchema = z.object({
  alg: z.string(),
  private_jwk: z.record(z.string(), z.unknown()),
  /** RFC 7638 thumbprint of the public key: the tokens' `cnf.jkt`. */
  thumbprint: z.string(),
  created_at: z.string(),
});

const IssuerFileSchema = z.object({
  version: z.literal(STORE_VERSION),
  issuer: z.string(),
  client: ClientSchema.optional(),
  dpop_key: DpopKeySchema.optional(),
  resources: z.record(z.string(), ResourceEntrySchema),
});

export type StoredClient = z.infer<typeof ClientSchema>;
export type StoredTokens = z.infer<typeof TokensSchema>;
export type StoredDpopKey = z.infer<typeof DpopKeySchema>;
export type ResourceEntry = z.infer<typeof ResourceEntrySchema>;
export type IssuerFile = z.infer<typeof IssuerFileSchema>;

/** The configuration directory, from the environment. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MCP_CLIENT_CONFIG_DIR']) return env['MCP_CLIENT_CONFIG_DIR'];
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'mcp-client');
}

/** A file name that is safe on every file system and cannot escape the directory. */
export function issuerFileName(issuer: string): string {
  const hash = createHash('sha256').update(issuer).digest('hex').slice(0, 16);
  let slug = 'issuer';
  try {
    const url = new URL(issuer);
    slug =
      `${url.host}${url.pathname}`
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '_')
        .replace(/^_+|_+$/g, '')
        .slice(0, 48) || 'issuer';
  } catch {
    // not a URL: keep the generic slug
  }
  return `${slug}-${hash}.json`;
}

/** Resource identifiers compared the way RFC 3986 §6.2.2 allows (case of scheme/host, default port, trailing slash). */
export function canonicalResource(value: string): string {
  try {
    const url = new URL(value);
    url.hash = '';
    let href = url.href; // lower-cases scheme and host, drops default ports
    if (url.pathname === '/' && !url.search) href = href.slice(0, -1);
    else if (href.endsWith('/')) href = href.slice(0, -1);
    return href;
  } catch {
    return value;
  }
}

export class Store {
  readonly dir: string;

  constructor(dir: string = configDir()) {
    this.dir = dir;
  }

  pathFor(issuer: string): string {
    return join(this.dir, issuerFileName(issuer));
  }

  async read(issuer: string): Promise<IssuerFile> {
    const empty: IssuerFile = { version: STORE_VERSION, issuer, resources: {} };
    let text: string;
    try {
      text = await readFile(this.pathFor(issuer), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return empty;
      throw error;
    }
    // A file we cannot read (corrupt, older format, hand-edited) is treated as empty and
    // replaced on the next write.
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return empty;
    }
    const parsed = IssuerFileSchema.safeParse(json);
    if (!parsed.success || parsed.data.issuer !== issuer) return empty;
    return parsed.data;
  }

  /** Atomically replaces the issuer's file (0600) inside the 0700 directory. */
  async write(file: IssuerFile): Promise<void> {
    await this.ensureDir();
    const target = this.pathFor(file.issuer);
    const tmp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await chmod(tmp, 0o600); // in case a umask or ACL widened it
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  async update(issuer: string, change: (file: IssuerFile) => void): Promise<IssuerFile> {
    const file = await this.read(issuer);
    change(file);
    await this.write(file);
    return file;
  }

  async saveClient(issuer: string, client: StoredClient): Promise<void> {
    await this.update(issuer, (file) => {
      file.client = client;
    });
  }

  async forgetClient(issuer: string): Promise<void> {
    await this.update(issuer, (file) => {
      delete file.client;
    });
  }

  async saveDpopKey(issuer: string, key: StoredDpopKey): Promise<void> {
    await this.update(issuer, (file) => {
      file.dpop_key = key;
    });
  }

  async saveTokens(issuer: string, entry: ResourceEntry): Promise<void> {
    await this.update(issuer, (file) => {
      file.resources[canonicalResource(entry.resource)] = entry;
    });
  }

  async deleteTokens(issuer: string, resource: string): Promise<boolean> {
    let removed = false;
    await this.update(issuer, (file) => {
      const key = canonicalResource(resource);
      removed = key in file.resources;
      delete file.resources[key];
    });
    return removed;
  }

  /**
   * Forgets the tokens other authorization servers issued for this resource (after the
   * resource moved to `issuer`): they would only be refused, and must never be refreshed
   * at the old AS on the new one's behalf.
   */
  async deleteTokensElsewhere(issuer: string, resource: string): Promise<string[]> {
    const key = canonicalResource(resource);
    const cleared: string[] = [];
    for (const file of await this.all()) {
      if (file.issuer === issuer || !(key in file.resources)) continue;
      await this.deleteTokens(file.issuer, resource);
      cleared.push(file.issuer);
    }
    return cleared;
  }

  /** Every issuer file in the directory (unreadable files are skipped). */
  async all(): Promise<IssuerFile[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files: IssuerFile[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      try {
        const parsed = IssuerFileSchema.safeParse(JSON.parse(await readFile(join(this.dir, name), 'utf8')));
        if (parsed.success) files.push(parsed.data);
      } catch {
        // skip
      }
    }
    return files;
  }

  /**
   * The stored tokens for an MCP server URL, searched across issuers (the most recently
   * obtained wins if, after an AS change, two issuers hold tokens for it).
   */
  async findByServer(serverUrl: string): Promise<{ issuer: string; client: StoredClient | undefined; entry: ResourceEntry } | undefined> {
    const wanted = canonicalResource(serverUrl);
    let best: { issuer: string; client: StoredClient | undefined; entry: ResourceEntry } | undefined;
    for (const file of await this.all()) {
      for (const entry of Object.values(file.resources)) {
        if (canonicalResource(entry.resource) !== wanted && canonicalResource(entry.server_url) !== wanted) continue;
        if (!best || entry.tokens.obtained_at > best.entry.tokens.obtained_at) best = { issuer: file.issuer, client: file.client, entry };
      }
    }
    return best;
  }

  private async ensureDir(): Promise<void> {
    // Directories we create are 0700; an existing directory chosen by the user is left as
    // it is (it may be shared, e.g. a test's temp dir) — the files themselves are 0600.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }
}
