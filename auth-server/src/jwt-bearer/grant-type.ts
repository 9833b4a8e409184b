/**
 * The names of the JWT bearer grant (RFC 7523 §2.1) and of the two kinds of assertion it
 * takes here, in a module of their own: the client registry and the registration policy need
 * them without loading the grant's code.
 */

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The `typ` header of an Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant §3). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
