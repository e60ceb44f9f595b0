// Keeps a phone's screen on while the busker is live: a phone that sleeps stops the camera. The
// browser drops a screen wake lock whenever the page is hidden, so it is asked for again each time
// the page becomes visible while held. Where the Screen Wake Lock API is missing (older Safari,
// plain http), the page must tell the busker not to lock the phone.
export type WakeState = 'held' | 'released' | 'unsupported' | 'refused';

interface Sentinel extends EventTarget { released: boolean; release(): Promise<void> }
interface WakeLockApi { request(type: 'screen'): Promise<Sentinel> }

export class ScreenWake {
  private sentinel: Sentinel | null = null;
  private wanted = false;
  private readonly onVisible = () => { if (document.visibilityState === 'visible' && this.wanted) void this.acquire(); };

  constructor(private readonly onState: (s: WakeState, detail?: string) => void) {}

  static get supported(): boolean { return 'wakeLock' in navigator; }

  /** Holds the screen on until release(), across the page being hidden and shown again. */
  async hold(): Promise<void> {
    if (this.wanted) return;
    this.wanted = true;
    document.addEventListener('visibilitychange', this.onVisible);
    await this.acquire();
  }

  async release(): Promise<void> {
    this.wanted = false;
    document.removeEventListener('visibilitychange', this.onVisible);
    const s = this.sentinel;
    this.sentinel = null;
    await s?.release().catch(() => undefined);
    this.onState('released');
  }

  private async acquire(): Promise<void> {
    const api = (navigator as Navigator & { wakeLock?: WakeLockApi }).wakeLock;
    if (!api) { this.onState('unsupported'); return; }
    if (this.sentinel && !this.sentinel.released) return;
    try {
      const s = await api.request('screen');
      if (!this.wanted) { await s.release(); return; }
      this.sentinel = s;
      // The browser released it (page hidden, battery saver): say so; onVisible asks again.
      s.addEventListener('release', () => { if (this.sentinel === s && this.wanted) this.onState('released'); });
      this.onState('held');
    } catch (e) {
      this.onState('refused', (e as Error).message);
    }
  }
}
