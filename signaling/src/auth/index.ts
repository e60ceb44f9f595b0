export { AuthError, TokenVerifier, DevTokenIssuer, DEV_TOKEN_KID } from './jwt';
export type { TokenClaims } from './jwt';
export { anonymousPrincipal, hasRole, ROLES } from './principal';
export type { Principal, Role } from './principal';
export { makeAuthenticator, permissions, tokenFromHeaders, destinationMatches, withTurnSidecarRole } from './stomp-auth';
