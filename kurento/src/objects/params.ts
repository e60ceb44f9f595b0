// Reading `operationParams` / `constructorParams` the way KMS's generated marshalling code does:
// a missing or mistyped parameter is MARSHALL_ERROR "'x' parameter should be a <type>".
import type { MediaKind } from '../media/types';
import { KurentoError } from '../protocol/errors';
import type { MediaObject } from './media-object';

export type KmsMediaType = 'AUDIO' | 'VIDEO' | 'DATA';
export const MEDIA_TYPES: readonly KmsMediaType[] = ['AUDIO', 'VIDEO', 'DATA'];

/** The media layer's kind for a KMS media type (DATA has none). */
export function mediaKind(type: KmsMediaType): MediaKind | null {
  return type === 'AUDIO' ? 'audio' : type === 'VIDEO' ? 'video' : null;
}

export function kmsType(kind: MediaKind): KmsMediaType {
  return kind === 'audio' ? 'AUDIO' : 'VIDEO';
}

/** Resolves object ids found in parameters (a sink, a pipeline). */
export type ObjectLookup = (id: string) => MediaObject;

export class Params {
  private readonly raw: Record<string, unknown>;

  constructor(raw: unknown, private readonly lookup: ObjectLookup, required = false) {
    if (raw === undefined || raw === null) {
      if (required) throw new KurentoError('MARSHALL_ERROR', "'operationParams' is required");
      this.raw = {};
    } else if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new KurentoError('MARSHALL_ERROR', "'operationParams' should be an object");
    } else {
      this.raw = raw as Record<string, unknown>;
    }
  }

  /** Number of members, for KMS's "Method 'x' with N parameters not found". */
  get size(): number {
    return Object.keys(this.raw).length;
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  string(name: string): string {
    const v = this.raw[name];
    // jsoncpp's isConvertibleTo(stringValue) also takes numbers and booleans.
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw fail(name, 'string');
  }

  optString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  int(name: string): number {
    const v = this.raw[name];
    if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    throw fail(name, 'integer');
  }

  optInt(name: string): number | undefined {
    return this.has(name) ? this.int(name) : undefined;
  }

  float(name: string): number {
    const v = this.raw[name];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    throw fail(name, 'float');
  }

  bool(name: string): boolean {
    const v = this.raw[name];
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    throw fail(name, 'boolean');
  }

  optBool(name: string): boolean | undefined {
    return this.has(name) ? this.bool(name) : undefined;
  }

  /** A complex-type parameter (e.g. IceCandidate): a JSON object. */
  record(name: string, typeName: string): Record<string, unknown> {
    const v = this.raw[name];
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    throw fail(name, typeName);
  }

  /** A media object referenced by id; an unknown id is MEDIA_OBJECT_NOT_FOUND, as in KMS. */
  object<T extends MediaObject>(name: string, typeName: string, is: (o: MediaObject) => o is T): T {
    const v = this.raw[name];
    if (typeof v !== 'string') throw fail(name, typeName);
    const o = this.lookup(v);
    if (!is(o)) throw new KurentoError('MARSHALL_ERROR', `'${name}' parameter should be a ${typeName}`);
    return o;
  }

  mediaType(name: string): KmsMediaType {
    const v = this.raw[name];
    if (typeof v === 'string' && (MEDIA_TYPES as readonly string[]).includes(v)) return v as KmsMediaType;
    throw fail(name, 'MediaType');
  }

  optMediaType(name: string): KmsMediaType | undefined {
    return this.has(name) ? this.mediaType(name) : undefined;
  }
}

function fail(name: string, type: string): KurentoError {
  return new KurentoError('MARSHALL_ERROR', `'${name}' parameter should be a ${type}`);
}
