/**
 * Who vouches for a client's name, as the consent and connected-apps pages show it: a CIMD
 * client's by the host serving its document, a pre-registered client's by the operator. A
 * DCR client describes itself: nothing is verified.
 */
export function verification(client: { clientId: string; clientIdMetadataDocument?: boolean; metadata(): Record<string, unknown> }) {
  if (client.clientIdMetadataDocument) return { verified: true, verifiedBy: new URL(client.clientId).host };
  if (client.metadata().client_id_issued_at === undefined) return { verified: true, verifiedBy: 'this server' };
  return { verified: false, verifiedBy: undefined };
}
