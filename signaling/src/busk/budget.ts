// How many offers this node negotiates at once. Every offer makes the media server build an endpoint
// and process the SDP, and any anonymous session can send offers as fast as the broker lets it; a
// crowd joining at once, too, is better served a few at a time than all together. So a node runs at
// most `concurrency` negotiations and queues a bounded number more (they wait their turn); beyond
// that an offer is refused with `unavailable` (busy: retry shortly). One session has at most
// PER_SESSION offers in flight, running or queued (`rate-limited`): a client renegotiating while its
// previous offer is still being answered needs two, nobody needs more.
import { AppError } from '../stomp';

const PER_SESSION = 2;
/** Waiting offers per running one before the node refuses new ones. */
const QUEUE_FACTOR = 16;

export class OfferBudget {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly inFlight = new Map<string, number>(); // per session, running or waiting

  constructor(private readonly concurrency: number, private readonly queueMax = concurrency * QUEUE_FACTOR) {}

  get stats(): { running: number; waiting: number } { return { running: this.running, waiting: this.waiting.length }; }

  /** Runs `job` for `sessionId` when the budget allows, or refuses at once. */
  async run<T>(sessionId: string, job: () => Promise<T>): Promise<T> {
    const mine = this.inFlight.get(sessionId) ?? 0;
    if (mine >= PER_SESSION) throw new AppError('rate-limited', `at most ${PER_SESSION} offers per session at a time; wait for the answer`);
    const full = this.concurrency > 0 && this.running >= this.concurrency;
    if (full && this.waiting.length >= this.queueMax) throw new AppError('unavailable', 'this node is busy negotiating other offers; retry shortly');
    this.inFlight.set(sessionId, mine + 1);
    try {
      // A waiter is handed the slot of the job that finished (running stays the same).
      if (full) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.running++;
      try {
        return await job();
      } finally {
        const nextJob = this.waiting.shift();
        if (nextJob) nextJob();
        else this.running--;
      }
    } finally {
      const n = (this.inFlight.get(sessionId) ?? 1) - 1;
      if (n > 0) this.inFlight.set(sessionId, n);
      else this.inFlight.delete(sessionId);
    }
  }
}
