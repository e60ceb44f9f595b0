// The Kurento Protocol's request handling (KMS: JsonRpcHandler + ServerMethods), independent of
// the transport: one JSON text in, one JSON text (or nothing, for a notification) out.
import { randomUUID } from 'node:crypto';
import type { MediaSet } from '../objects/media-set';
import { KurentoError, RpcError, RpcErrorCode, toErrorObject } from './errors';
import { RequestCache } from './request-cache';
import type { SessionTable } from './sessions';
import type { Subscriptions } from './subscriptions';

type Json = Record<string, unknown>;
type Method = (params: Json | null, via: Connection | undefined) => Promise<Json | null> | Json | null;

/**
 * The control connection a message came on, as far as the limits care: the objects created over it
 * that are still alive. Objects outlive their connection (KMS keeps them for a session that
 * reconnects), so the count is of live objects, and the engine-wide cap covers what closed
 * connections left behind.
 */
export interface Connection {
  readonly created: Set<string>;
}

export interface ObjectLimits {
  /** Live objects created over one control connection (pipelines and elements). */
  perConnection: number;
  /** Live objects in the whole engine. */
  total: number;
}

/**
 * Generous for the one kurento-client a signaling node uses for all its busks (a viewer is one
 * endpoint), and far below the tens of thousands of pipelines that one socket could create.
 */
export const DEFAULT_OBJECT_LIMITS: ObjectLimits = { perConnection: 5000, total: 20000 };

export interface Processed {
  /** The response text; null for notifications. */
  response: string | null;
  /** The session the response named, to bind the socket to. */
  sessionId?: string;
}

export class RpcProcessor {
  /** Identifies this server instance in `connect` answers (KMS's instanceId). */
  readonly serverId = randomUUID();
  private readonly cache: RequestCache;
  private readonly methods: Record<string, Method>;
  /** Live object id → the `created` set of the connection that created it. */
  private readonly creators = new Map<string, Set<string>>();

  constructor(
    private readonly media: MediaSet, private readonly sessions: SessionTable, private readonly subscriptions: Subscriptions,
    requestCacheMs?: number, private readonly limits: ObjectLimits = DEFAULT_OBJECT_LIMITS,
  ) {
    this.cache = new RequestCache(requestCacheMs);
    this.methods = {
      ping: (p) => this.ping(p),
      connect: (p) => this.connect(p),
      create: (p, via) => this.create(p, via),
      describe: (p) => this.describe(p),
      invoke: (p) => this.invoke(p),
      subscribe: (p) => this.subscribe(p),
      unsubscribe: (p) => this.unsubscribe(p),
      release: (p) => this.release(p),
      ref: (p) => this.ref(p),
      unref: (p) => this.ref(p),
      keepAlive: (p) => this.keepAlive(p),
      closeSession: (p) => { requireParams(p); return null; },
      transaction: (p, via) => this.transaction(p, via),
    };
  }

  /** The media set calls this when an object is gone (released, or with its pipeline). */
  objectReleased(id: string): void {
    this.creators.get(id)?.delete(id);
    this.creators.delete(id);
  }

  /** Handles one message received on a socket whose session is `socketSessionId` (if any). */
  async process(text: string, socketSessionId: string | undefined, via?: Connection): Promise<Processed> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return { response: errorText(null, new RpcError(RpcErrorCode.PARSE_ERROR, 'Parse error.')) };
    }
    if (!isRecord(msg) || msg.jsonrpc !== '2.0' || isComposite(msg.id) || typeof msg.method !== 'string') {
      return { response: errorText(null, new RpcError(RpcErrorCode.INVALID_REQUEST, 'Invalid JSON-RPC request.', { type: 'INVALID_REQUEST' })) };
    }
    const id = msg.id ?? null;
    let params: Json | null = isRecord(msg.params) ? msg.params : null;
    // Like KMS's transport, a request without a sessionId is taken as the socket's session.
    if (socketSessionId && (!params || params.sessionId === undefined)) params = { ...(params ?? {}), sessionId: socketSessionId };

    const requestSession = params && typeof params.sessionId === 'string' ? params.sessionId : undefined;
    if (id !== null && requestSession) {
      const cached = this.cache.get(requestSession, id);
      if (cached) return { response: cached, sessionId: requestSession };
    }
    const { response, sessionId } = await this.dispatch(msg.method, id, params, via);
    if (id === null) return { response: null, sessionId };
    const text2 = JSON.stringify(response);
    const cacheSession = sessionId ?? requestSession;
    if (cacheSession) this.cache.put(cacheSession, id, text2);
    return { response: text2, sessionId };
  }

  private async dispatch(method: string, id: unknown, params: Json | null, via: Connection | undefined): Promise<{ response: Json; sessionId?: string }> {
    const handler = Object.prototype.hasOwnProperty.call(this.methods, method) ? this.methods[method] : undefined;
    if (!handler) return { response: errorObject(id, new RpcError(RpcErrorCode.METHOD_NOT_FOUND, 'Method not found.')) };
    try {
      const result = await handler(params, via);
      const sessionId = result && typeof result.sessionId === 'string' ? result.sessionId : undefined;
      return { response: { jsonrpc: '2.0', id, result }, sessionId };
    } catch (e) {
      return { response: errorObject(id, e) };
    }
  }

  close(): void {
    this.cache.close();
  }

  // --- methods (ServerMethods.cpp) ---

  private ping(p: Json | null): Json {
    const sessionId = p && typeof p.sessionId === 'string' ? p.sessionId : undefined;
    return sessionId ? { value: 'pong', sessionId } : { value: 'pong' };
  }

  private connect(p: Json | null): Json {
    let sessionId: string;
    if (p && p.sessionId !== undefined) {
      sessionId = String(p.sessionId);
      if (!this.sessions.get(sessionId)) throw new KurentoError('INVALID_SESSION', 'Invalid session');
    } else {
      sessionId = this.sessions.newId();
      this.sessions.touch(sessionId);
    }
    return { sessionId, serverId: this.serverId };
  }

  private create(p: Json | null, via: Connection | undefined): Json {
    const params = requireParams(p);
    const type = stringParam(params, 'type');
    const sessionId = this.sessionOf(params);
    // KMS answers NOT_ENOUGH_RESOURCES when it cannot make more elements; so does this, at limits
    // that keep one client (or one page that reached the port) from exhausting the engine.
    if (this.media.size - 1 >= this.limits.total) {
      throw new KurentoError('NOT_ENOUGH_RESOURCES', `Too many media objects (${this.limits.total}), cannot create new ones`);
    }
    if (via && via.created.size >= this.limits.perConnection) {
      throw new KurentoError('NOT_ENOUGH_RESOURCES', `Too many media objects created on this connection (${this.limits.perConnection}), cannot create new ones`);
    }
    const object = this.media.create(type, params.constructorParams);
    if (via && this.media.has(object.id)) {
      via.created.add(object.id);
      this.creators.set(object.id, via.created);
    }
    return { value: object.id, sessionId };
  }

  private describe(p: Json | null): Json {
    const params = requireParams(p);
    const sessionId = this.sessionOf(params);
    const object = this.media.get(stringParam(params, 'object'));
    return { sessionId, type: object.kind.type, qualifiedType: object.qualifiedType, hierarchy: [...object.kind.hierarchy] };
  }

  private async invoke(p: Json | null): Promise<Json> {
    const params = requireParams(p);
    const operation = stringParam(params, 'operation');
    const objectId = stringParam(params, 'object');
    const sessionId = this.sessionOf(params);
    const value = await this.media.get(objectId).invoke(operation, params.operationParams);
    return value === undefined ? { sessionId } : { value, sessionId };
  }

  private subscribe(p: Json | null): Json {
    const params = requireParams(p);
    const type = stringParam(params, 'type');
    const objectId = stringParam(params, 'object');
    const sessionId = this.sessionOf(params);
    const object = this.media.get(objectId);
    if (!object.supportsEvent(type)) throw new KurentoError('MEDIA_OBJECT_EVENT_NOT_SUPPORTED', `Event '${type}' not supported`);
    return { value: this.subscriptions.subscribe(sessionId, object, type), sessionId };
  }

  private unsubscribe(p: Json | null): Json {
    const params = requireParams(p);
    stringParam(params, 'object');
    const subscription = stringParam(params, 'subscription');
    const sessionId = stringParam(params, 'sessionId');
    this.subscriptions.unsubscribe(sessionId, subscription);
    return { sessionId };
  }

  private release(p: Json | null): Json {
    const params = requireParams(p);
    const objectId = stringParam(params, 'object');
    const sessionId = this.sessionOf(params);
    this.media.release(objectId);
    return { sessionId };
  }

  private ref(p: Json | null): Json {
    const params = requireParams(p);
    const objectId = stringParam(params, 'object');
    const sessionId = stringParam(params, 'sessionId');
    this.media.get(objectId);
    this.sessions.touch(sessionId);
    return { sessionId };
  }

  private keepAlive(p: Json | null): Json {
    const params = requireParams(p);
    const sessionId = stringParam(params, 'sessionId');
    if (!this.sessions.get(sessionId)) throw new KurentoError('INVALID_SESSION', 'Invalid session');
    return { sessionId };
  }

  /** Operations run in order; "newref:N" stands for the value of operation N; the first error stops the rest. */
  private async transaction(p: Json | null, via: Connection | undefined): Promise<Json> {
    const params = requireParams(p);
    const sessionId = this.sessionOf(params);
    const operations = params.operations;
    if (!Array.isArray(operations)) throw new RpcError(RpcErrorCode.SERVER_ERROR, "'operations' parameter should be an array");
    const responses: Json[] = [];
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i];
      if (!isRecord(op) || op.id !== i) {
        throw new KurentoError('MALFORMED_TRANSACTION', `Id of request '${i}' should be '${i}'`);
      }
      const opParams = { ...(isRecord(op.params) ? injectRefs(op.params, responses) as Json : {}), sessionId };
      const { response } = typeof op.method === 'string'
        ? await this.dispatch(op.method, i, opParams, via)
        : { response: errorObject(i, new RpcError(RpcErrorCode.INVALID_REQUEST, 'Invalid JSON-RPC request.')) };
      responses.push(response);
      if (response.error) break;
    }
    return { value: responses, sessionId };
  }

  /** KMS's getOrCreateSessionId: the request's session, or a new one. */
  private sessionOf(params: Json): string {
    const id = typeof params.sessionId === 'string' && params.sessionId ? params.sessionId : this.sessions.newId();
    this.sessions.touch(id);
    return id;
  }
}

function injectRefs(value: unknown, responses: Json[]): unknown {
  if (typeof value === 'string' && value.startsWith('newref:') && value.length > 'newref:'.length) {
    const index = Number(value.slice('newref:'.length));
    if (!Number.isInteger(index)) throw new KurentoError('MALFORMED_TRANSACTION', `Invalid index of newref '${value.slice(7)}'`);
    const result = responses[index]?.result;
    if (!isRecord(result)) throw new KurentoError('MALFORMED_TRANSACTION', `Result not found on request ${index}`);
    return result.value;
  }
  if (Array.isArray(value)) return value.map((v) => injectRefs(v, responses));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, injectRefs(v, responses)]));
  return value;
}

function requireParams(p: Json | null): Json {
  if (!p) throw new RpcError(RpcErrorCode.INVALID_PARAMS, "'params' is required", { type: 'INVALID_PARAMS' });
  return p;
}

/** KMS's JsonRpc::getValue for strings: a missing or non-scalar member is error -32000. */
function stringParam(p: Json, name: string): string {
  const v = p[name];
  if (v === undefined) throw new RpcError(RpcErrorCode.SERVER_ERROR, `'${name}' parameter is required`);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new RpcError(RpcErrorCode.SERVER_ERROR, `'${name}' parameter should be a string`);
}

function errorObject(id: unknown, e: unknown): Json {
  return { jsonrpc: '2.0', id: id ?? null, error: toErrorObject(e) };
}

function errorText(id: unknown, e: unknown): string {
  return JSON.stringify(errorObject(id, e));
}

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isComposite(v: unknown): boolean {
  return typeof v === 'object' && v !== null;
}
