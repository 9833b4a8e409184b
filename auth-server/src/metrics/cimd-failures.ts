/**
 * Why a Client ID Metadata Document could not be used, from the error oidc-provider raises
 * (lib/helpers/client_id_metadata_document.js: a fixed description, the cause in the detail;
 * the address guard's refusal is policies/outbound-fetch.ts's). undefined: not a CIMD failure.
 */
export type CimdFailure = 'not_allowed' | 'refused_address' | 'http_status' | 'timeout' | 'too_large' | 'not_json' | 'invalid_document' | 'unreachable';

export function cimdFailure(error: { error?: string; error_description?: string; error_detail?: string }): CimdFailure | undefined {
  const description = error.error_description ?? '';
  if (!description.startsWith('client_id metadata document')) return undefined;
  if (error.error === 'invalid_client_metadata') return 'invalid_document';
  if (description === 'client_id metadata document fetch not allowed') return 'not_allowed';
  const detail = error.error_detail ?? '';
  if (/^unexpected response status/.test(detail)) return 'http_status';
  if (/was not contacted/.test(detail)) return 'refused_address';
  if (/abort|time(d)? ?out/i.test(detail)) return 'timeout';
  if (/size|too large|exceed|length/i.test(detail)) return 'too_large';
  if (/JSON|Unexpected (token|end)/.test(detail)) return 'not_json';
  return 'unreachable';
}
