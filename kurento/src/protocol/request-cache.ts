// KMS's RequestCache: a request repeated with the same session and id within 20 s gets the
// first answer again instead of running twice. kurento-client resends unanswered requests after
// a reconnect, so without this a `create` could make two objects.
const DEFAULT_TTL_MS = 20000;

export class RequestCache {
  private readonly entries = new Map<string, { response: string; at: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly ttlMs = DEFAULT_TTL_MS) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, ttlMs / 2));
    this.sweeper.unref();
  }

  get(sessionId: string, requestId: unknown): string | undefined {
    const e = this.entries.get(key(sessionId, requestId));
    return e && Date.now() - e.at <= this.ttlMs ? e.response : undefined;
  }

  put(sessionId: string, requestId: unknown, response: string): void {
    this.entries.set(key(sessionId, requestId), { response, at: Date.now() });
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.entries) if (now - e.at > this.ttlMs) this.entries.delete(k);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }
}

function key(sessionId: string, requestId: unknown): string {
  return `${sessionId}|${JSON.stringify(requestId)}`;
}
