/**
 * The command-line flags of the assertion-based ways to a token, checked together (cli.ts
 * parses the rest): `--client-key` (private_key_jwt, flow/client-assertion.ts),
 * `--workload-token-file` (flow/workload-grant.ts) and `--enterprise-idp` with its IdP client
 * and `--id-token-file` (flow/enterprise.ts). Contradictions are usage errors (exit 2) before
 * anything is sent; so are files that are missing or hold no key or JWT (checkFiles, at start-up).
 */
import { resolve } from 'node:path';
import { usageError } from './errors.ts';
import { CLIENT_KEY_ALGS, loadClientKey } from './flow/client-assertion.ts';
import { checkIdTokenFile } from './flow/enterprise.ts';
import type { EnterpriseOptions } from './flow/enterprise.ts';
import type { FlowOptions } from './flow/login.ts';
import { checkWorkloadTokenFile } from './flow/workload-grant.ts';
import type { Trace } from './trace.ts';

export interface AssertionFlagValues {
  'client-id'?: string | undefined;
  'client-credentials'?: boolean | undefined;
  'client-key'?: string | undefined;
  'client-key-alg'?: string | undefined;
  'workload-token-file'?: string | undefined;
  'enterprise-idp'?: string | undefined;
  'idp-client-id'?: string | undefined;
  'idp-client-secret'?: string | undefined;
  'id-token-file'?: string | undefined;
}

export interface AssertionOptions {
  /** Absolute path. */
  clientKeyFile?: string | undefined;
  clientKeyAlg?: string | undefined;
  /** Absolute path. */
  workloadTokenFile?: string | undefined;
  enterprise?: EnterpriseOptions | undefined;
}

/** Checks the flags against each other (no file is read here). */
export function parseAssertionFlags(values: AssertionFlagValues, clientSecret: string | undefined, env: NodeJS.ProcessEnv): AssertionOptions {
  const clientId = values['client-id'];
  const key = values['client-key'];
  const alg = values['client-key-alg'];
  if (key !== undefined && clientId === undefined) throw usageError('--client-key is the private key of a pre-registered client: pass --client-id too');
  if (key !== undefined && clientSecret) {
    throw usageError('--client-key and a client secret (--client-secret or MCP_CLIENT_SECRET) are two ways to authenticate --client-id: pass one');
  }
  if (alg !== undefined && key === undefined) throw usageError('--client-key-alg names the algorithm of --client-key: pass --client-key too');
  if (alg !== undefined && !(CLIENT_KEY_ALGS as readonly string[]).includes(alg)) {
    throw usageError(`--client-key-alg must be one of ${CLIENT_KEY_ALGS.join(', ')}, got ${JSON.stringify(alg)}`);
  }

  const workload = values['workload-token-file'];
  const idp = values['enterprise-idp'];
  if (workload !== undefined) {
    if (values['client-credentials']) {
      throw usageError('--workload-token-file and --client-credentials are two different grants (jwt-bearer, client_credentials): pass one');
    }
    if (idp !== undefined || values['id-token-file'] !== undefined) {
      throw usageError('--workload-token-file is for a workload, --enterprise-idp for a user signing in at an IdP: pass one');
    }
    if (clientId === undefined) throw usageError('--workload-token-file needs --client-id: the client the authorization server configured for this workload');
    if (workload === '') throw usageError('--workload-token-file needs a file name');
  }

  for (const flag of ['idp-client-id', 'idp-client-secret', 'id-token-file'] as const) {
    if (values[flag] !== undefined && idp === undefined) throw usageError(`--${flag} belongs to --enterprise-idp: pass the IdP's issuer with --enterprise-idp`);
  }
  let enterprise: EnterpriseOptions | undefined;
  if (idp !== undefined) {
    if (!URL.canParse(idp) || !/^https?:$/.test(new URL(idp).protocol)) {
      throw usageError(`--enterprise-idp must be the enterprise IdP's issuer URL, got ${JSON.stringify(idp)}`);
    }
    if (values['client-credentials']) throw usageError('--enterprise-idp signs a user in; --client-credentials is a machine client without one: pass one');
    const idpClientId = values['idp-client-id'];
    if (idpClientId === undefined) throw usageError("--enterprise-idp needs --idp-client-id: mcp-client's client at that IdP");
    if (clientId === undefined) {
      throw usageError("--enterprise-idp needs --client-id: the client at the MCP server's authorization server that the IdP issues ID-JAGs for");
    }
    const idpClientSecret = values['idp-client-secret'] ?? env['MCP_IDP_CLIENT_SECRET'];
    const idTokenFile = values['id-token-file'];
    enterprise = {
      idpIssuer: idp,
      idpClientId,
      ...(idpClientSecret ? { idpClientSecret } : {}),
      ...(idTokenFile ? { idTokenFile: resolve(idTokenFile) } : {}),
    };
  }
  return {
    ...(key !== undefined ? { clientKeyFile: resolve(key) } : {}),
    ...(alg !== undefined ? { clientKeyAlg: alg } : {}),
    ...(workload !== undefined ? { workloadTokenFile: resolve(workload) } : {}),
    ...(enterprise ? { enterprise } : {}),
  };
}

/** At start-up: the files the flags name exist and hold what they must (a usable private key, a JWT); exit 2 otherwise. */
export async function checkAssertionFiles(flow: Pick<FlowOptions, 'preRegistered' | 'workloadTokenFile' | 'enterprise'>, trace: Trace): Promise<void> {
  const keyFile = flow.preRegistered?.clientKeyFile;
  if (keyFile) await loadClientKey(keyFile, { alg: flow.preRegistered?.clientKeyAlg, trace, usage: true });
  if (flow.workloadTokenFile) await checkWorkloadTokenFile(flow.workloadTokenFile);
  if (flow.enterprise?.idTokenFile) await checkIdTokenFile(flow.enterprise.idTokenFile);
}
