// Error objects of the Kurento Protocol. Two families, as in KMS:
// - JSON-RPC 2.0 errors (negative codes) for requests the RPC layer itself cannot take
//   (kurento/server/jsonrpc: JsonRpcException.hpp, JsonRpcHandler.cpp);
// - Kurento errors (4xxxx codes, `data.type` = the constant's name) raised by media objects
//   (server/module-core/src/server/interface/KurentoException.hpp).

/** KMS error codes, by the name KMS puts in `error.data.type`. */
export const KmsErrorCode = {
  MARSHALL_ERROR: 40001,
  UNEXPECTED_ERROR: 40003,
  CONNECT_ERROR: 40004,
  UNSUPPORTED_MEDIA_TYPE: 40005,
  NOT_IMPLEMENTED: 40006,
  INVALID_SESSION: 40007,
  MALFORMED_TRANSACTION: 40008,
  NOT_ENOUGH_RESOURCES: 40009,
  MEDIA_OBJECT_TYPE_NOT_FOUND: 40100,
  MEDIA_OBJECT_NOT_FOUND: 40101,
  MEDIA_OBJECT_CONSTRUCTOR_NOT_FOUND: 40104,
  MEDIA_OBJECT_METHOD_NOT_FOUND: 40105,
  MEDIA_OBJECT_EVENT_NOT_SUPPORTED: 40106,
  MEDIA_OBJECT_ILLEGAL_PARAM_ERROR: 40107,
  MEDIA_OBJECT_NOT_AVAILABLE: 40108,
  MEDIA_OBJECT_NOT_FOUND_TRANSACTION_NO_COMMIT: 40109,
  MEDIA_OBJECT_TAG_KEY_NOT_FOUND: 40110,
  MEDIA_OBJECT_OPERATION_NOT_SUPPORTED: 40111,
  SDP_CREATE_ERROR: 40200,
  SDP_PARSE_ERROR: 40201,
  SDP_END_POINT_NO_LOCAL_SDP_ERROR: 40202,
  SDP_END_POINT_NO_REMOTE_SDP_ERROR: 40203,
  SDP_END_POINT_GENERATE_OFFER_ERROR: 40204,
  SDP_END_POINT_PROCESS_OFFER_ERROR: 40205,
  SDP_END_POINT_PROCESS_ANSWER_ERROR: 40206,
  SDP_CONFIGURATION_ERROR: 40207,
  SDP_END_POINT_ALREADY_NEGOTIATED: 40208,
  SDP_END_POINT_NOT_OFFER_GENERATED: 40209,
  SDP_END_POINT_ANSWER_ALREADY_PROCCESED: 40210,
  SDP_END_POINT_CANNOT_CREATE_SESSON: 40211,
  ICE_GATHER_CANDIDATES_ERROR: 40400,
  ICE_ADD_CANDIDATE_ERROR: 40401,
  SERVER_MANAGER_ERROR_KMD_NOT_FOUND: 40500,
  PLAYER_SEEK_FAIL: 40700,
} as const;

export type KmsErrorType = keyof typeof KmsErrorCode;

/** A KMS-level failure (KurentoException): answered as `{code, message, data: {type}}`. */
export class KurentoError extends Error {
  readonly code: number;
  constructor(readonly type: KmsErrorType, message: string) {
    super(message);
    this.name = 'KurentoError';
    this.code = KmsErrorCode[type];
  }
}

/** JSON-RPC 2.0 error codes (JsonRpcException.hpp). */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** KMS answers a missing or mistyped protocol member ("'object' parameter is required") with this. */
  SERVER_ERROR: -32000,
} as const;

const rpcTypes: Record<number, string> = {
  [RpcErrorCode.PARSE_ERROR]: 'PARSE_ERROR',
  [RpcErrorCode.INVALID_REQUEST]: 'INVALID_REQUEST',
  [RpcErrorCode.METHOD_NOT_FOUND]: 'METHOD_NOT_FOUND',
  [RpcErrorCode.INVALID_PARAMS]: 'INVALID_PARAMS',
  [RpcErrorCode.INTERNAL_ERROR]: 'INTERNAL_ERROR',
};

/** A JSON-RPC-level failure (KMS's CallException). Like KMS, standard codes get a `data.type`. */
export class RpcError extends Error {
  readonly data: Record<string, unknown> | undefined;
  constructor(readonly code: number, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = 'RpcError';
    this.data = data ?? (rpcTypes[code] ? { type: rpcTypes[code] } : undefined);
  }
}

export interface ErrorObject {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

/** The `error` member for any thrown value; unknown failures become INTERNAL_ERROR, as in KMS. */
export function toErrorObject(e: unknown): ErrorObject {
  if (e instanceof KurentoError) return { code: e.code, message: e.message, data: { type: e.type } };
  if (e instanceof RpcError) return e.data ? { code: e.code, message: e.message, data: e.data } : { code: e.code, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  return { code: RpcErrorCode.INTERNAL_ERROR, message: `Unexpected error while processing method: ${message}`, data: { type: 'INTERNAL_ERROR' } };
}
