// PROTOCOL.md's /app destinations: each handler parses the body, authorizes the sender, calls the
// service and replies. This is the one place where a media server failure (MediaError) becomes the
// AppError the client sees; everything below speaks in media and busk terms only.
import { AppError } from '../stomp';
import type { AppHandler, AppRequest, Principal } from '../stomp';
import { MediaError } from '../media';
import { hasRole } from '../auth';
import { KeyedRateLimit } from '../rate-limit';
import type { BuskContext } from './context';
import type { BuskService } from './service';
import { parseChat, parseIce, parseLocation, parseOffer, parseStart, parseToken } from './validate';

function principal(req: AppRequest): Principal {
  const p = req.session.principal;
  if (!p) throw new AppError('unauthorized', 'not authenticated');
  return p;
}

/** True when `p` is the busk owner acting as such (an anonymous guest never is). */
function isOwner(p: Principal | null, owner: { id: string }): boolean {
  return !!p && !p.anonymous && owner.id === p.id;
}

export class AppHandlers {
  /** LOCATION_RATE, per busker. */
  private readonly pinMoves: KeyedRateLimit;

  constructor(private readonly ctx: BuskContext, private readonly service: BuskService) {
    const { count, windowMs } = ctx.o.config.limits.locationRate;
    this.pinMoves = new KeyedRateLimit(count, windowMs);
  }

  register(): void {
    const b = this.ctx.o.broker;
    b.app('/app/busk.start', this.counted('start', (r) => this.onStart(r)));
    b.app('/app/busk.{id}.offer', this.counted('offer', (r) => this.onOffer(r)));
    b.app('/app/busk.{id}.ice', this.counted('ice', (r) => this.onIce(r)));
    b.app('/app/busk.{id}.leave', this.counted('leave', (r) => this.onLeave(r)));
    b.app('/app/busk.{id}.chat', this.counted('chat', (r) => this.onChat(r)));
    b.app('/app/busk.{id}.location', this.counted('location', (r) => this.onLocation(r)));
    b.app('/app/auth.refresh', this.counted('auth.refresh', (r) => this.onRefresh(r)));
  }

  /** Counts every request by kind and outcome (busking_app_messages_total) and maps MediaError to AppError. */
  private counted(kind: string, h: (r: AppRequest) => Promise<void>): AppHandler {
    const counter = this.ctx.o.metrics.appMessages;
    return async (r) => {
      try {
        await h(r);
        counter.inc({ kind, outcome: 'ok' });
      } catch (e) {
        const err = e instanceof MediaError ? new AppError(e.code, e.message) : e;
        counter.inc({ kind, outcome: (err as { code?: string }).code ?? 'error' });
        throw err;
      }
    };
  }

  private async onStart(req: AppRequest): Promise<void> {
    const p = principal(req);
    if (!hasRole(p, 'busker')) throw new AppError('forbidden', 'starting a busk needs the busker role');
    const start = parseStart(req.json());
    await this.service.create(p, req.session.id, start, (rec) => this.ctx.toSession(req.session.id, '/queue/busk', { type: 'started', buskId: rec.id }));
  }

  private async onOffer(req: AppRequest): Promise<void> {
    const p = principal(req);
    const sdp = parseOffer(req.json());
    // Checked and counted before the first await: a burst of offers meets the budget one by one.
    await this.ctx.offers.run(req.session.id, async () => {
      const rec = await this.service.record(req.params.id);
      const peer = this.ctx.peer(req.session, rec.id);
      const t0 = performance.now();
      if (isOwner(p, rec.owner)) {
        await this.service.present(rec, peer, sdp);
        this.ctx.o.metrics.presentSeconds.observe((performance.now() - t0) / 1000);
      } else {
        await this.service.watch(rec, peer, sdp);
        this.ctx.o.metrics.joinSeconds.observe((performance.now() - t0) / 1000);
      }
    });
  }

  private async onIce(req: AppRequest): Promise<void> {
    await this.service.addCandidate(req.params.id, req.session.id, parseIce(req.json()));
  }

  private async onLeave(req: AppRequest): Promise<void> {
    const p = req.session.principal;
    const outcome = await this.service.leave(req.params.id, req.session.id, p);
    if (outcome !== 'none') return;
    const rec = await this.service.record(req.params.id);
    if (isOwner(p, rec.owner)) throw new AppError('conflict', 'this session does not present this busk');
    throw new AppError('conflict', 'this session is not watching this busk');
  }

  private async onChat(req: AppRequest): Promise<void> {
    const p = principal(req);
    const text = parseChat(req.json(), this.ctx.o.config.chat.maxLength);
    await this.service.record(req.params.id);
    await this.service.chat.say(p, req.session.id, req.params.id, text, req.session.remoteAddress);
  }

  private async onLocation(req: AppRequest): Promise<void> {
    const p = principal(req);
    const location = parseLocation(req.json<unknown>());
    const rec = await this.service.record(req.params.id);
    if (!isOwner(p, rec.owner)) throw new AppError('forbidden', 'only the busker moves the pin');
    // Each move goes to every map viewer: a busker's pin moves at a walker's pace, not a script's.
    if (!this.pinMoves.take(p.id)) {
      const { count, windowMs } = this.ctx.o.config.limits.locationRate;
      throw new AppError('rate-limited', `at most ${count} pin moves per ${windowMs / 1000} s`);
    }
    await this.service.move(rec.id, location);
  }

  private async onRefresh(req: AppRequest): Promise<void> {
    const token = parseToken(req.json());
    let next: Principal;
    try {
      next = this.ctx.o.verifier.verify(token);
    } catch (e) {
      throw new AppError('unauthorized', (e as Error).message);
    }
    const cur = req.session.principal;
    if (cur && !cur.anonymous && cur.id !== next.id) throw new AppError('forbidden', 'a refreshed token must be for the same user');
    req.session.setPrincipal(next);
  }
}
