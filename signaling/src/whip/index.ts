// WHIP ingest (RFC 9725) and WHEP playback: HTTP sessions that are a busk's presenter or one of its
// viewers, through the same busk service as the STOMP clients (create, present, watch,
// addCandidate, leave) and the same offer budget. This node owns its sessions; a session ends on
// DELETE, when its busk ends, when the media server loses its leg (`reoffer` cannot reach an HTTP
// client), for WHIP when no media has flowed in for the silence limit (OBS gone without DELETE), and
// for WHEP when the leg's transport never came up or stayed down for the viewer timeout.
import type { BuskService } from '../busk';
import { parseOffer, parseStart } from '../busk/validate';
import { hasRole } from '../auth';
import { HttpError } from '../http/app';
import { log } from '../log';
import type { State } from '../state';
import { AppError } from '../stomp';
import type { Principal } from '../stomp';
import { withOpusParameters } from '../protocol/opus';
import { parseSdpFrag } from './sdp';
import { WhipSession, type SessionKind } from './session';

export { WhipSession } from './session';
export type { SessionKind } from './session';

export interface WhipOptions {
  busks: BuskService;
  state: State;
  anonymousViewing: boolean;
  /** A WHIP presenter with no media flowing in for this long is ended (ms). */
  silenceMs: number;
  /** A WHEP leg whose transport never came up, or has been down, this long is ended (ms). */
  viewerTimeoutMs: number;
  /** How often sessions are checked against their busks (ms). */
  sweepMs?: number;
}

const SWEEP_MS = 5000;
const STEREO = { stereo: '1', 'sprop-stereo': '1' };

export class WhipService {
  private readonly sessions = new Map<string, WhipSession>();
  private readonly principals = new Map<string, Principal>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly o: WhipOptions) {
    this.sweeper = setInterval(() => { this.sweep().catch((e) => log.warn('whip', 'session sweep failed', e)); }, o.sweepMs ?? SWEEP_MS);
    this.sweeper.unref();
  }

  get size(): number { return this.sessions.size; }

  /** A session of `kind` by id; not-found otherwise. */
  get(kind: SessionKind, id: string): WhipSession {
    const s = this.sessions.get(id);
    if (!s || s.kind !== kind) throw new AppError('not-found', `no ${kind.toUpperCase()} session ${id}`);
    return s;
  }

  /** POST /whip: a new busk presented by this offer. */
  async publish(p: Principal | null, sdp: string, q: Record<string, unknown>): Promise<{ session: WhipSession; answer: string }> {
    if (!p || p.anonymous) throw new AppError('unauthorized', 'WHIP needs Authorization: Bearer <busker token>');
    if (!hasRole(p, 'busker')) throw new AppError('forbidden', 'publishing needs the busker role');
    const offer = parseOffer({ sdpOffer: sdp });
    for (const s of this.sessions.values()) {
      if (s.kind === 'whip' && s.userId === p.id) throw new AppError('conflict', `you already publish busk ${s.buskId} over WHIP; DELETE that session first`);
    }
    const start = parseStart({
      title: one(q.title, 'title') ?? `${p.name} live`,
      description: one(q.description, 'description') ?? '',
      hashtags: (one(q.tags, 'tags') ?? '').split(',').map((t) => t.trim()).filter(Boolean),
      location: location(q),
      record: one(q.record, 'record') === 'true',
    });
    const s = new WhipSession('whip', p.id, offer);
    this.add(s, p);
    try {
      const rec = await this.o.busks.create(p, s.sessionId, start);
      s.buskId = rec.id;
      await this.o.busks.runOffer(s.sessionId, () => this.o.busks.present(rec, s, offer));
      return { session: s, answer: await s.completeAnswer() };
    } catch (e) {
      await this.end(s);
      throw e;
    }
  }

  /** POST /whep/{buskId}: a viewer leg of the busk. */
  async play(p: Principal | null, buskId: string, sdp: string): Promise<{ session: WhipSession; answer: string }> {
    if (!p && !this.o.anonymousViewing) throw new AppError('unauthorized', 'watching needs Authorization: Bearer <token> on this service');
    const offer = parseOffer({ sdpOffer: sdp });
    const rec = await this.o.busks.record(buskId);
    const s = new WhipSession('whep', p?.id ?? '', offer);
    s.buskId = rec.id;
    this.add(s, p);
    try {
      await this.o.busks.runOffer(s.sessionId, () => this.o.busks.watch(rec, s, offer));
      // A player decodes stereo only when the description it applies says so (a busker in a music
      // mode sends stereo Opus); harmless for a mono stream.
      return { session: s, answer: withOpusParameters(await s.completeAnswer(), STEREO) };
    } catch (e) {
      await this.end(s);
      throw e;
    }
  }

  /** PATCH: trickled client candidates. An ICE restart is refused (422, RFC 9725 §4.3): the leg keeps its ICE session. */
  async trickle(kind: SessionKind, id: string, body: string, ifMatch: string | undefined): Promise<void> {
    const s = this.get(kind, id);
    // RFC 9725 §4.3.1: the client names the ICE session it trickles into.
    if (ifMatch === undefined) throw new HttpError(428, 'precondition-required', `PATCH needs If-Match: ${s.etag}`);
    if (ifMatch !== '*' && ifMatch !== s.etag) throw new HttpError(412, 'precondition-failed', `If-Match ${ifMatch} is not this ICE session (${s.etag})`);
    const frag = parseSdpFrag(body, s.offerMids);
    if (ifMatch === '*' || (frag.ufrag !== null && frag.ufrag !== s.clientUfrag)) {
      throw new HttpError(422, 'unprocessable', 'ICE restarts are not supported: DELETE the session and start a new one');
    }
    for (const c of frag.candidates) await this.o.busks.addCandidate(s.buskId, s.sessionId, c);
  }

  /** DELETE, or the end of the leg: a WHIP session ends its busk, a WHEP session leaves it. */
  async end(s: WhipSession, reason = 'deleted'): Promise<void> {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    const p = this.principals.get(s.id) ?? null;
    this.principals.delete(s.id);
    s.close();
    if (s.buskId) await this.o.busks.leave(s.buskId, s.sessionId, p).catch((e) => log.warn('whip', `leaving busk ${s.buskId}`, e));
    log.info('whip', `${s.kind} session ${s.id} of busk ${s.buskId || '-'} ended: ${reason}`);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, 'shutdown')));
  }

  private add(s: WhipSession, p: Principal | null): void {
    this.sessions.set(s.id, s);
    if (p) this.principals.set(s.id, p);
    s.on('lost', (reason) => { this.end(s, reason).catch(() => undefined); });
  }

  /** Sessions whose busk has ended go; a WHIP presenter silent past the limit ends its busk. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (!s.buskId) continue;
      const rec = await this.o.state.getBusk(s.buskId);
      if (!rec) { await this.end(s, 'busk-ended'); continue; }
      if (s.kind === 'whep') {
        const lostFor = s.downSince !== null ? now - s.downSince : s.connectedOnce ? 0 : now - s.createdAt;
        if (lostFor > this.o.viewerTimeoutMs) await this.end(s, 'ice-timeout');
        continue;
      }
      if (rec.media === 'flowing') s.lastFlowingAt = now;
      else if (now - s.lastFlowingAt > this.o.silenceMs) await this.end(s, 'no-media');
    }
  }
}

function one(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new AppError('bad-request', `${name} must be given once`);
  return v;
}

function location(q: Record<string, unknown>): { lat: number; lng: number } | null {
  const lat = one(q.lat, 'lat');
  const lng = one(q.lng, 'lng');
  if (lat === undefined && lng === undefined) return null;
  if (lat === undefined || lng === undefined) throw new AppError('bad-request', 'give both lat and lng, or neither');
  return { lat: Number(lat), lng: Number(lng) };
}
