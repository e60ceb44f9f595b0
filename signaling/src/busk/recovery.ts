// Media server trouble. Connection lost: the busks there stall until it is back. Session lost (the
// server restarted and answered INVALID_SESSION): every object there is gone, so each busk rebuilds
// on its presenter's next offer, which it asks for with `reoffer`; its viewers are asked once the
// presenter has a new endpoint (Busk.present → 'reoffer-viewers').
import type { MediaServerClient } from '../media';
import type { Audience } from './audience';
import type { Busk } from './busk';
import type { BuskContext } from './context';

export class Recovery {
  constructor(private readonly ctx: BuskContext, private readonly busks: () => Busk[], private readonly audience: Audience) {}

  async onDown(srv: MediaServerClient): Promise<void> {
    for (const busk of this.busks()) if (busk.pipeline?.server === srv) await busk.stall();
  }

  async onSessionLost(srv: MediaServerClient): Promise<void> {
    for (const busk of this.busks()) {
      // The server client dropped the lost pipeline already; the busk still names its server.
      if (!busk.pipeline || busk.pipeline.server !== srv || busk.ended) continue;
      await busk.mediaLost();
      this.ctx.o.bus.control({ type: 'busk-reset', buskId: busk.id });
      const sid = busk.rec.presenterSession;
      if (sid) {
        this.ctx.o.metrics.reoffers.inc({ who: 'presenter' });
        const msg = { type: 'reoffer', reason: 'media-server-restarted' } as const;
        // Through the presenter leg's own channel (a WHIP session has no STOMP queue).
        const channel = busk.presenter?.sessionId === sid ? busk.presenter.channel : null;
        if (channel) channel.send(msg);
        else this.ctx.toSession(sid, `/queue/busk.${busk.id}`, msg);
      }
    }
    await this.audience.mediaLost(srv);
  }
}
