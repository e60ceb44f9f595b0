// Public API of the STOMP broker (docs/ARCHITECTURE.md, "STOMP broker").
export { Broker, sessionIdPrefixOf } from './broker';
export type { Body, BrokerEvents, SubscriptionEvent } from './broker';
export { AppError, AuthError, FrameError, ProtocolError, isAuthError } from './errors';
export type { AppErrorCode, FrameErrorCode } from './errors';
export type {
  Principal, Authenticator, PermissionCheck, PermissionAction, SessionInfo, AppRequest, AppHandler,
  BrokerStats, CloseReason, Logger, TransportKind,
} from './types';
export type { BrokerOptions, BrokerLimits, HeartbeatOptions } from './options';
export { DEFAULT_LIMITS, DEFAULT_HEARTBEAT } from './options';
export { permissionRules, parsePermissionRules, defaultPermissions, openPermissions, DEFAULT_RULES, compilePattern } from './permissions';
export type { PermissionRule } from './permissions';
export { FrameParser, DEFAULT_PARSER_LIMITS } from './parser';
export type { ParserLimits } from './parser';
export { serializeFrame } from './serializer';
export type { Frame, Headers, StompVersion } from './frame';
