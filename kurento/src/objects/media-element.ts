// kurento.MediaElement: source → sink connections per media type and description, with KMS's
// rules: connect() without a type connects AUDIO, VIDEO and DATA; a sink has at most one source
// per (type, sink description), so a new source replaces the old one; elements of different
// pipelines cannot be connected; ElementConnected/ElementDisconnected are raised by the source.
import type { MediaSource } from '../media/types';
import { KurentoError } from '../protocol/errors';
import { complexType } from './complex-types';
import { MediaObject, MEDIA_OBJECT_EVENTS, type ObjectHost, type ObjectKind, type Operation } from './media-object';
import { MEDIA_TYPES, type KmsMediaType } from './params';

export const MEDIA_ELEMENT_EVENTS = [
  ...MEDIA_OBJECT_EVENTS,
  'ElementConnected', 'ElementDisconnected', 'MediaFlowInStateChanged', 'MediaFlowOutStateChanged', 'MediaTranscodingStateChanged',
] as const;

const DEFAULT_DESCRIPTION = 'default';

export interface Connection {
  source: MediaElement;
  sink: MediaElement;
  type: KmsMediaType;
  sourceDescription: string;
  sinkDescription: string;
}

export abstract class MediaElement extends MediaObject {
  /** Connections where this element is the source. */
  private readonly sinks = new Set<Connection>();
  /** Connections where this element is the sink, keyed by type and sink description. */
  private readonly sources = new Map<string, Connection>();
  private encoderBitrate = 0;
  private minEncoderBitrate = 0;
  private maxEncoderBitrate = 0;

  protected constructor(host: ObjectHost, kind: ObjectKind, parent: MediaObject) {
    super(host, kind, parent);
  }

  connect(sink: MediaElement, type?: KmsMediaType, sourceDescription = DEFAULT_DESCRIPTION, sinkDescription = DEFAULT_DESCRIPTION): void {
    if (sink.mediaPipeline !== this.mediaPipeline) throw new KurentoError('CONNECT_ERROR', 'Media elements do not share pipeline');
    for (const t of type ? [type] : MEDIA_TYPES) {
      const previous = sink.sources.get(sourceKey(t, sinkDescription));
      if (previous) previous.source.disconnect(sink, t, previous.sourceDescription, sinkDescription);
      const conn: Connection = { source: this, sink, type: t, sourceDescription, sinkDescription };
      this.sinks.add(conn);
      sink.sources.set(sourceKey(t, sinkDescription), conn);
      MediaElement.refreshMedia(sink, t);
      this.raise('ElementConnected', { sink: sink.id, mediaType: t, sourceMediaDescription: sourceDescription, sinkMediaDescription: sinkDescription });
    }
  }

  /** Like KMS, raises ElementDisconnected even when there was nothing to disconnect. */
  disconnect(sink: MediaElement, type?: KmsMediaType, sourceDescription = DEFAULT_DESCRIPTION, sinkDescription = DEFAULT_DESCRIPTION): void {
    for (const t of type ? [type] : MEDIA_TYPES) {
      const key = sourceKey(t, sinkDescription);
      const conn = sink.sources.get(key);
      if (conn && conn.source === this && conn.sourceDescription === sourceDescription) {
        sink.sources.delete(key);
        this.sinks.delete(conn);
        MediaElement.refreshMedia(sink, t);
      }
      this.raise('ElementDisconnected', { sink: sink.id, mediaType: t, sourceMediaDescription: sourceDescription, sinkMediaDescription: sinkDescription });
    }
  }

  sinkConnections(type?: KmsMediaType, description?: string): Connection[] {
    return [...this.sinks].filter((c) => (!type || c.type === type) && (description === undefined || c.sourceDescription === description));
  }

  sourceConnections(type?: KmsMediaType, description?: string): Connection[] {
    return [...this.sources.values()].filter((c) => (!type || c.type === type) && (description === undefined || c.sinkDescription === description));
  }

  /**
   * The element whose media of `type` leaves this one. An endpoint is its own origin; a PassThrough
   * passes on its source's (null: nothing reaches it). Media is forwarded, never re-encoded, so a
   * chain of PassThroughs is resolved to one route from the origin to each terminal.
   */
  mediaOrigin(_type: KmsMediaType, _seen: Set<MediaElement>): MediaElement | null {
    return this;
  }

  /**
   * What sinks fed by this origin take their media from: a WebRtcEndpoint's peer, a PlayerEndpoint's
   * file (null: this element sends nothing on its own). `create`: make it if it is not there yet.
   */
  mediaSource(_create: boolean): MediaSource | null {
    return null;
  }

  /** The elements where media entering this one ends up: itself, or for a PassThrough its sinks' terminals. */
  mediaTerminals(_type: KmsMediaType, _seen: Set<MediaElement>): MediaElement[] {
    return [this];
  }

  /** This terminal now takes its media of `type` from `origin` (null: from nothing). Idempotent. */
  protected feedFrom(_type: KmsMediaType, _origin: MediaElement | null): void {}

  /** A connection into `sink` changed: every terminal downstream of it takes media from its (new) origin. */
  private static refreshMedia(sink: MediaElement, type: KmsMediaType): void {
    for (const terminal of sink.mediaTerminals(type, new Set())) terminal.feedFrom(type, terminal.upstreamOrigin(type));
  }

  /** The origin feeding this element's `type` input, through any PassThroughs. */
  protected upstreamOrigin(type: KmsMediaType, seen: Set<MediaElement> = new Set([this])): MediaElement | null {
    const conn = this.sourceConnections(type)[0];
    return conn ? conn.source.mediaOrigin(type, seen) : null;
  }

  isFlowingIn(_type: KmsMediaType): boolean {
    return false;
  }

  isFlowingOut(_type: KmsMediaType): boolean {
    return false;
  }

  /** Releasing an element disconnects it from everything first (MediaElementImpl::release). */
  protected dispose(): Promise<void> | void {
    for (const c of [...this.sinks]) this.disconnect(c.sink, c.type, c.sourceDescription, c.sinkDescription);
    for (const c of [...this.sources.values()]) c.source.disconnect(this, c.type, c.sourceDescription, c.sinkDescription);
  }

  protected operations(): Record<string, Operation> {
    return {
      ...super.operations(),
      connect: (p) => this.connect(p.object('sink', 'MediaElement', isMediaElement), p.optMediaType('mediaType'), p.optString('sourceMediaDescription'), p.optString('sinkMediaDescription')),
      disconnect: (p) => this.disconnect(p.object('sink', 'MediaElement', isMediaElement), p.optMediaType('mediaType'), p.optString('sourceMediaDescription'), p.optString('sinkMediaDescription')),
      getSourceConnections: (p) => this.sourceConnections(p.optMediaType('mediaType'), p.optString('description')).map(connectionData),
      getSinkConnections: (p) => this.sinkConnections(p.optMediaType('mediaType'), p.optString('description')).map(connectionData),
      isMediaFlowingIn: (p) => this.isFlowingIn(p.mediaType('mediaType')),
      isMediaFlowingOut: (p) => this.isFlowingOut(p.mediaType('mediaType')),
      // Nothing is transcoded here: media is forwarded as received.
      isMediaTranscoding: (p) => { p.mediaType('mediaType'); return false; },
      getStats: () => ({}),
      getGstreamerDot: () => `digraph "${this.id}" {}`,
      getEncoderBitrate: () => this.encoderBitrate,
      setEncoderBitrate: (p) => { this.encoderBitrate = p.int('encoderBitrate'); },
      getMinEncoderBitrate: () => this.minEncoderBitrate,
      setMinEncoderBitrate: (p) => { this.minEncoderBitrate = p.int('minEncoderBitrate'); },
      getMaxEncoderBitrate: () => this.maxEncoderBitrate,
      setMaxEncoderBitrate: (p) => { this.maxEncoderBitrate = p.int('maxEncoderBitrate'); },
    };
  }
}

export function isMediaElement(o: MediaObject): o is MediaElement {
  return o instanceof MediaElement;
}

function sourceKey(type: KmsMediaType, sinkDescription: string): string {
  return `${type}/${sinkDescription}`;
}

function connectionData(c: Connection) {
  return complexType('ElementConnectionData', {
    source: c.source.id,
    sink: c.sink.id,
    type: c.type,
    sourceDescription: c.sourceDescription,
    sinkDescription: c.sinkDescription,
  });
}
