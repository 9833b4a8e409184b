import type { AdapterFactory } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { SigningJwk } from '../keys.ts';
import type { Logger } from '../log.ts';
import type { UpstreamTokens } from '../upstream-tokens/index.ts';
import { bindUpstreamTokens, dropUpstreamTokensWithTheirGrant } from '../upstream-tokens/grant-binding.ts';
import { registerTokenExchange } from './grant.ts';
import { IssuedAccessTokens } from './issued-tokens.ts';
import { subjectTokenReader } from './subject-token.ts';

export interface TokenExchangeInstall {
  upstreamTokens: UpstreamTokens;
  adapter: AdapterFactory;
  exchangers: ReadonlyMap<string, readonly string[]>;
  audiences: readonly string[];
  signingKeys: readonly SigningJwk[];
  logger: Logger;
}

/**
 * Everything the provider needs for upstream tokens: the grant type (always, so a client
 * without `token_exchange` is told unauthorized_client), and — when some client may exchange —
 * the issued-token records, the binding hooks and the revocation listeners.
 */
export function installTokenExchange(provider: Provider, { upstreamTokens, adapter, exchangers, audiences, signingKeys, logger }: TokenExchangeInstall) {
  const issued = new IssuedAccessTokens(adapter);
  registerTokenExchange(provider, {
    exchangers,
    audiences,
    readSubjectToken: subjectTokenReader(provider, signingKeys, issued),
    access: upstreamTokens.access,
    logger,
  });
  if (!upstreamTokens.enabled) return;
  provider.use(issued.middleware(logger));
  provider.use(bindUpstreamTokens(upstreamTokens.vault, logger));
  dropUpstreamTokensWithTheirGrant(provider, upstreamTokens.vault, logger);
}
