import type { Storage } from '../adapters/index.ts';

/**
 * Revokes a grant the way oidc-provider's own revocation does, from outside a request (the
 * connected-apps page, the admin CLI): every code and token issued under it — and the
 * upstream tokens kept for it, which carry its grant id — then the grant (the consent)
 * itself. On every backend, `revokeByGrantId` of any model's adapter removes every record
 * of the grant, whatever its model.
 */
export async function revokeGrant(storage: Storage, grantId: string): Promise<void> {
  await storage.adapter('RefreshToken').revokeByGrantId(grantId);
  await storage.adapter('Grant').destroy(grantId);
}
