// The TURN module's public API (docs/ARCHITECTURE.md, "TURN").
export { turnCredentials, iceServers, parseSharedSecretUsername } from './credentials';
export type { TurnCredential, IceServer, IceServerOptions } from './credentials';
export { parseCoturnLine } from './parser';
export type { CoturnEvent, CoturnEventKind, LineMeta } from './events';
export { TurnMonitor } from './monitor';
export type { TurnSnapshot, ActiveSession, AuthFailure, TurnEvent, TurnMonitorOptions } from './monitor';
export type { Diagnosis, DiagnosisId } from './diagnosis';
export { LogFollower } from './follower';
export type { RotateInfo, LogFollowerOptions } from './follower';
export { StompPublisher } from './publisher';
export { startSidecar } from './sidecar';
export { registerTurnEventRelay, turnEventRelayHandler, TURN_EVENTS_APP_DESTINATION, TURN_EVENTS_TOPIC } from './relay';
