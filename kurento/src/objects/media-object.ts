// kurento.MediaObject: identity, parent/children, name, tags, events and the release cascade that
// every KMS object shares. Subclasses add operations (invoke targets) and events.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { KurentoError } from '../protocol/errors';
import { Params, type ObjectLookup } from './params';
import { complexType } from './complex-types';

/** What `describe` answers about a type, and which events it can be subscribed to. */
export interface ObjectKind {
  type: string;
  /** Qualified supertypes, nearest first, as in KMS's describe answer. */
  hierarchy: readonly string[];
  events: readonly string[];
}

/** One event as KMS sends it in `onEvent` params.value. */
export interface KmsEvent {
  type: string;
  object: string;
  data: Record<string, unknown>;
}

export type Operation = (params: Params) => unknown;

/** What a media object needs from the registry that holds it (MediaSet). */
export interface ObjectHost {
  lookup: ObjectLookup;
  adopt(object: MediaObject): void;
  forget(object: MediaObject): void;
  /** Tracks asynchronous cleanup (sockets closing) so the server's close() can wait for it. */
  track(cleanup: Promise<void>): void;
}

export const MEDIA_OBJECT_EVENTS = ['Error'] as const;

export abstract class MediaObject {
  readonly id: string;
  readonly creationTime = Math.floor(Date.now() / 1000);
  readonly children = new Set<MediaObject>();
  private name: string | undefined;
  private readonly tags = new Map<string, string>();
  private sendTagsInEvents = false;
  private readonly emitter = new EventEmitter();
  private opTable: Record<string, Operation> | undefined;
  private released = false;

  protected constructor(protected readonly host: ObjectHost, readonly kind: ObjectKind, readonly parent: MediaObject | null, fixedId?: string) {
    // KMS ids: "<parent id>/<uuid>_kurento.<Type>"; the pipeline (no parent) is "<uuid>_kurento.MediaPipeline".
    this.id = fixedId ?? `${parent ? `${parent.id}/` : ''}${randomUUID()}_kurento.${kind.type}`;
    this.emitter.setMaxListeners(0);
    parent?.children.add(this);
    host.adopt(this);
  }

  get qualifiedType(): string {
    return `kurento.${this.kind.type}`;
  }

  get isReleased(): boolean {
    return this.released;
  }

  get mediaPipeline(): MediaObject {
    return this.parent ? this.parent.mediaPipeline : this;
  }

  supportsEvent(type: string): boolean {
    return this.kind.events.includes(type);
  }

  /** Listens to one event type; returns the function that stops listening. */
  on(type: string, listener: (event: KmsEvent) => void): () => void {
    this.emitter.on(type, listener);
    return () => this.emitter.off(type, listener);
  }

  /**
   * Runs an `invoke` operation. KMS's generated code answers an unknown one with 40008
   * MALFORMED_TRANSACTION; we answer 40105 MEDIA_OBJECT_METHOD_NOT_FOUND (which kurento-client maps
   * to SyntaxError) with KMS's message text (see kurento/README.md, "Deliberate differences").
   */
  invoke(operation: string, rawParams: unknown): unknown {
    const params = new Params(rawParams, this.host.lookup);
    this.opTable ??= this.operations();
    const op = Object.prototype.hasOwnProperty.call(this.opTable, operation) ? this.opTable[operation] : undefined;
    if (!op) throw new KurentoError('MEDIA_OBJECT_METHOD_NOT_FOUND', `Method '${operation}' with ${params.size} parameters not found`);
    return op(params);
  }

  /** Releases this object and, first, every child (a pipeline takes its elements with it). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const child of [...this.children]) child.release();
    const cleanup = this.dispose();
    if (cleanup) this.host.track(cleanup);
    this.parent?.children.delete(this);
    this.host.forget(this);
    this.emitter.removeAllListeners();
  }

  /** Frees what the subclass holds (connections, media peers). */
  protected dispose(): Promise<void> | void {}

  /** Raises an event with KMS's RaiseBase fields; Media events also carry their own name as `type`. */
  protected raise(type: string, fields: Record<string, unknown> = {}, mediaEvent = true): void {
    if (this.released || this.emitter.listenerCount(type) === 0) return;
    const now = Date.now();
    const data: Record<string, unknown> = {
      source: this.id,
      tags: this.sendTagsInEvents ? this.tagList() : [],
      timestamp: String(Math.floor(now / 1000)),
      timestampMillis: String(now),
      ...(mediaEvent ? { type } : {}),
      ...fields,
    };
    this.emitter.emit(type, { type, object: this.id, data } satisfies KmsEvent);
  }

  /** KMS Error event: `type` is the error's kind (e.g. NOT_NEGOTIATED), not the event name. */
  protected raiseError(type: string, description: string, errorCode: number): void {
    this.raise('Error', { type, description, errorCode }, false);
  }

  /** The operations of this type; subclasses spread `super.operations()` and add theirs. */
  protected operations(): Record<string, Operation> {
    return {
      getId: () => this.id,
      getName: () => this.name ?? this.id,
      setName: (p) => { this.name = p.string('name'); },
      getParent: () => this.parent?.id ?? null,
      getMediaPipeline: () => this.mediaPipeline.id,
      getChildren: () => [...this.children].map((c) => c.id),
      getCreationTime: () => this.creationTime,
      getSendTagsInEvents: () => this.sendTagsInEvents,
      setSendTagsInEvents: (p) => { this.sendTagsInEvents = p.bool('sendTagsInEvents'); },
      addTag: (p) => { this.tags.set(p.string('key'), p.string('value')); },
      removeTag: (p) => { this.tags.delete(p.string('key')); },
      getTag: (p) => {
        const v = this.tags.get(p.string('key'));
        if (v === undefined) throw new KurentoError('MEDIA_OBJECT_TAG_KEY_NOT_FOUND', 'Tag key not found');
        return v;
      },
      getTags: () => this.tagList(),
    };
  }

  private tagList(): unknown[] {
    return [...this.tags].map(([key, value]) => complexType('Tag', { key, value }));
  }
}
