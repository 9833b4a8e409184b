/**
 * `pnpm admin …`: the operator's view of the auth server's store and key set.
 *
 *   clients list | show <client_id> | delete <client_id>
 *   grants list --user <email|sub> | revoke <grant_id> | revoke --user <email|sub>
 *   users list
 *   keys list | rotate | promote | retire [keep]
 *
 * `--json` prints machine-readable output; `delete` and `revoke` ask for confirmation unless
 * `--yes`. It works on the store the server is configured with (the same environment:
 * STORE, SQLITE_PATH, REDIS_URL, CLIENTS_FILE, KEYS_FILE), alongside a running server.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { createStorage, type Storage } from '../adapters/index.ts';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import type { GrantView } from '../grants/grant-records.ts';
import { createLogger } from '../log.ts';
import { loadStaticClients } from '../registry.ts';
import { AdminError, AdminOperations, type ClientSummary, type UserSummary } from './operations.ts';
import { keysCommand } from './keys-commands.ts';

const USAGE = `usage: pnpm admin <command> [--json] [--yes]
  clients list | clients show <client_id> | clients delete <client_id>
  grants list --user <email|sub> | grants revoke <grant_id> | grants revoke --user <email|sub>
  users list
  keys list | keys rotate | keys promote | keys retire [keep]`;

interface Output {
  json: boolean;
  print(human: string, data: unknown): void;
}

/**
 * Client and grant ids (and some IdPs' subjects) are random base64url strings, so one may
 * begin with `-` (`-iY3…`), which parseArgs would take for short options: a `-x…` argument
 * that is not `-h` is an id — a positional, passed after `--`, or the value of `--user`. A
 * mistyped `--option` is still refused as unknown.
 */
function idsAsPositionals(argv: string[]): string[] {
  const options: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      ids.push(...argv.slice(i + 1));
      break;
    }
    const next = argv[i + 1];
    if (arg === '--user' && next !== undefined && /^-[^-]/.test(next)) {
      options.push(`--user=${next}`);
      i++;
    } else if (/^-[^-]/.test(arg) && arg !== '-h') ids.push(arg);
    else options.push(arg);
  }
  return [...options, '--', ...ids];
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: idsAsPositionals(argv),
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      user: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [area, action, target] = positionals;
  if (values.help || !area) {
    console.log(USAGE);
    return;
  }
  const output: Output = {
    json: values.json,
    print: (human, data) => console.log(values.json ? JSON.stringify(data, null, 2) : human),
  };
  // The IdP secret is the server's business; the admin CLI never talks to the IdP.
  const config = loadConfig({ ...process.env, IDP_CLIENT_SECRET: process.env.IDP_CLIENT_SECRET || 'unused-by-the-admin-cli' });

  if (area === 'keys') {
    await keysCommand(config.keysFile, action ?? 'list', target, output);
    return;
  }
  await withOperations(config, async (operations) => {
    const confirm = (question: string) => confirmation(question, values.yes);
    switch (`${area} ${action ?? ''}`.trim()) {
      case 'clients list': {
        const clients = await operations.clients();
        output.print(clients.length ? clients.map(clientLine).join('\n') : 'no clients', clients);
        return;
      }
      case 'clients show': {
        const client = await operations.client(required(target, 'client_id'));
        if (!client) throw new AdminError(`no client ${target}`);
        output.print([clientLine(client), ...client.grants.map(grantLine)].join('\n'), client);
        return;
      }
      case 'clients delete': {
        const clientId = required(target, 'client_id');
        await confirm(`Delete client ${clientId} and revoke every grant it holds?`);
        const result = await operations.deleteClient(clientId);
        output.print(`deleted ${clientId}; revoked ${result.revokedGrants} grant(s)`, { deleted: clientId, ...result });
        return;
      }
      case 'grants list': {
        const grants = await operations.grantsOf(required(values.user, '--user'));
        output.print(grants.length ? grants.map(grantLine).join('\n') : 'no grants', grants);
        return;
      }
      case 'grants revoke': {
        if (values.user) {
          const count = (await operations.grantsOf(values.user)).length;
          await confirm(`Revoke all ${count} grant(s) of ${values.user}? Their applications must ask them to sign in again.`);
          const result = await operations.revokeGrantsOf(values.user);
          output.print(`revoked ${result.revokedGrants} grant(s) of ${values.user}`, result);
          return;
        }
        const grantId = required(target, 'grant_id or --user');
        await confirm(`Revoke grant ${grantId}?`);
        await operations.revokeGrant(grantId);
        output.print(`revoked ${grantId}`, { revoked: grantId });
        return;
      }
      case 'users list': {
        const users = await operations.users();
        output.print(users.length ? users.map(userLine).join('\n') : 'no users', users);
        return;
      }
      default:
        throw new AdminError(`unknown command: ${positionals.join(' ')}\n${USAGE}`);
    }
  });
}

async function withOperations(config: Config, work: (operations: AdminOperations) => Promise<void>) {
  if (config.store.kind === 'memory')
    throw new AdminError('STORE=memory keeps the state inside the auth server process: the admin CLI works on SQLite and Redis');
  const storage: Storage = await createStorage({
    store: config.store,
    policy: { refreshOverlapSeconds: config.refreshToken.reuseWindow },
    logger: createLogger('silent'),
  });
  try {
    if (!(await storage.ping())) throw new AdminError(`the store (${storage.kind} at ${storage.location}) is not reachable`);
    await work(new AdminOperations(storage, (await loadStaticClients(config)).metadata));
  } finally {
    await storage.close();
  }
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new AdminError(`missing ${what}\n${USAGE}`);
  return value;
}

async function confirmation(question: string, yes: boolean) {
  if (yes) return;
  if (!process.stdin.isTTY) throw new AdminError(`${question} — add --yes to confirm (there is no terminal to ask on)`);
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  try {
    if (!/^y(es)?$/i.test((await terminal.question(`${question} [y/N] `)).trim())) throw new AdminError('nothing changed');
  } finally {
    terminal.close();
  }
}

const date = (epoch: number | undefined) => (epoch ? new Date(epoch * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : '-');

function clientLine(client: ClientSummary) {
  return `${client.clientId}  ${client.origin}  ${client.name ?? '(no name)'}  ${client.grantTypes.join(',')}  ${client.redirectUris.join(' ')}`;
}

function grantLine(grant: GrantView & { clientName?: string | undefined }) {
  const scopes = [...grant.openidScopes, ...grant.resources.flatMap((resource) => resource.scopes)].join(' ');
  return `${grant.grantId}  ${grant.clientName ? `${grant.clientName} (${grant.clientId})` : `client ${grant.clientId}`}  user ${grant.accountId}  ${grant.resources.map((resource) => resource.url).join(' ') || '-'}  [${scopes}]  authorized ${date(grant.authorizedAt)}  last used ${date(grant.lastUsedAt)}`;
}

function userLine(user: UserSummary) {
  return `${user.sub}  ${user.email ?? '-'}  ${user.name ?? '-'}  ${user.grants} grant(s)`;
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof AdminError || error instanceof ConfigError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error((error as Error).message);
    process.exit(2);
  }
  throw error;
}
