import type { ClientMetadata } from 'oidc-provider';
import type { Storage } from '../adapters/index.ts';
import { listGrants, type GrantView } from '../grants/grant-records.ts';
import { revokeGrant } from '../grants/revoke-grant.ts';

/**
 * What operators can see and change, on whichever store the auth server uses. Each
 * function returns data; admin/cli.ts prints it. Nothing here prints a secret: client
 * secrets and registration access tokens never leave the store.
 */

export interface ClientSummary {
  clientId: string;
  /** `configured`: from CLIENTS_FILE (edit the file to change it); `dynamic`: registered by DCR. */
  origin: 'configured' | 'dynamic';
  name: string | undefined;
  redirectUris: string[];
  grantTypes: string[];
  authMethod: string;
  registeredAt: number | undefined;
}

export interface UserSummary {
  sub: string;
  email: string | undefined;
  name: string | undefined;
  grants: number;
}

function summary(metadata: Record<string, unknown>, origin: ClientSummary['origin']): ClientSummary {
  const strings = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  return {
    clientId: String(metadata.client_id),
    origin,
    name: typeof metadata.client_name === 'string' ? metadata.client_name : undefined,
    redirectUris: strings(metadata.redirect_uris),
    grantTypes: strings(metadata.grant_types),
    authMethod: typeof metadata.token_endpoint_auth_method === 'string' ? metadata.token_endpoint_auth_method : 'client_secret_basic',
    registeredAt: typeof metadata.client_id_issued_at === 'number' ? metadata.client_id_issued_at : undefined,
  };
}

export class AdminOperations {
  readonly #storage: Storage;
  readonly #configured: ClientMetadata[];

  constructor(storage: Storage, configuredClients: ClientMetadata[]) {
    this.#storage = storage;
    this.#configured = configuredClients;
  }

  async clients(): Promise<ClientSummary[]> {
    const dynamic = (await this.#storage.list('Client')).map(({ payload }) => summary(payload as Record<string, unknown>, 'dynamic'));
    return [...this.#configured.map((client) => summary(client as Record<string, unknown>, 'configured')), ...dynamic];
  }

  async client(clientId: string): Promise<(ClientSummary & { grants: GrantView[] }) | undefined> {
    const found = (await this.clients()).find((client) => client.clientId === clientId);
    return found && { ...found, grants: await listGrants(this.#storage, (grant) => grant.clientId === clientId) };
  }

  /** Deletes a self-registered client and revokes every grant it holds; configured clients live in CLIENTS_FILE. */
  async deleteClient(clientId: string): Promise<{ revokedGrants: number }> {
    const found = (await this.clients()).find((client) => client.clientId === clientId);
    if (!found) throw new AdminError(`no client ${clientId}`);
    if (found.origin === 'configured') throw new AdminError(`${clientId} is configured in CLIENTS_FILE: remove it there and restart the auth server`);
    const grants = await listGrants(this.#storage, (grant) => grant.clientId === clientId);
    for (const grant of grants) await revokeGrant(this.#storage, grant.grantId);
    await this.#storage.adapter('Client').destroy(clientId);
    return { revokedGrants: grants.length };
  }

  async users(): Promise<UserSummary[]> {
    const grants = await listGrants(this.#storage, () => true);
    return (await this.#storage.list('Account')).map(({ id, payload }) => {
      const profile = (payload as { profile?: { email?: string; name?: string } }).profile ?? {};
      return { sub: id, email: profile.email, name: profile.name, grants: grants.filter((grant) => grant.accountId === id).length };
    });
  }

  /** The account a user is known by: their subject, or the email their IdP reported. */
  async resolveUser(user: string): Promise<string> {
    const users = await this.users();
    const match = users.find((candidate) => candidate.sub === user) ?? users.find((candidate) => candidate.email?.toLowerCase() === user.toLowerCase());
    if (!match) throw new AdminError(`no user ${user} (users are known once they have signed in)`);
    return match.sub;
  }

  /** A user's grants, each with the name its client registered (when it still exists). */
  async grantsOf(user: string): Promise<(GrantView & { clientName: string | undefined })[]> {
    const sub = await this.resolveUser(user);
    const names = new Map((await this.clients()).map((client) => [client.clientId, client.name]));
    return (await listGrants(this.#storage, (grant) => grant.accountId === sub)).map((grant) => ({ ...grant, clientName: names.get(grant.clientId) }));
  }

  async revokeGrant(grantId: string): Promise<void> {
    const [grant] = await listGrants(this.#storage, (candidate) => candidate.grantId === grantId);
    if (!grant) throw new AdminError(`no grant ${grantId}`);
    await revokeGrant(this.#storage, grantId);
  }

  async revokeGrantsOf(user: string): Promise<{ revokedGrants: number }> {
    const grants = await this.grantsOf(user);
    for (const grant of grants) await revokeGrant(this.#storage, grant.grantId);
    return { revokedGrants: grants.length };
  }
}

/** A refusal the operator can act on: printed as one line, exit status 2. */
export class AdminError extends Error {
  override name = 'AdminError';
}
