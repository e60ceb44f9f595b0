import { BuskQuery, BuskRecord, ChatMessage, State, ViewerEntry, distanceM, matches } from './types';

/** One node, no persistence: the default. */
export class MemoryState implements State {
  readonly kind = 'memory' as const;
  private busks = new Map<string, BuskRecord>();
  private viewerMap = new Map<string, Map<string, ViewerEntry>>();
  private chats = new Map<string, ChatMessage[]>();
  private nodes = new Map<string, number>();
  private claims = new Map<string, number>();

  async putBusk(rec: BuskRecord) { this.busks.set(rec.id, structuredClone(rec)); }
  async getBusk(id: string) { const r = this.busks.get(id); return r ? structuredClone(r) : null; }
  async updateBusk(id: string, patch: Partial<BuskRecord>) {
    const r = this.busks.get(id);
    if (!r) return null;
    Object.assign(r, structuredClone(patch), { id });
    return structuredClone(r);
  }
  async deleteBusk(id: string) {
    const had = this.busks.delete(id);
    this.viewerMap.delete(id);
    this.chats.delete(id);
    return had;
  }
  async listBusks(q: BuskQuery = {}) {
    const out = [...this.busks.values()].filter((r) => matches(r, q)).map((r) => structuredClone(r));
    if (q.near) out.sort((a, b) => distanceM(a.location!, q.near!) - distanceM(b.location!, q.near!));
    else out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    return out;
  }
  async viewerCount(id: string) { return this.viewerMap.get(id)?.size ?? 0; }
  async viewerCounts(ids: string[]) { return ids.map((id) => this.viewerMap.get(id)?.size ?? 0); }
  async setViewer(buskId: string, sessionId: string, v: ViewerEntry) {
    let m = this.viewerMap.get(buskId);
    if (!m) this.viewerMap.set(buskId, (m = new Map()));
    m.set(sessionId, { ...v });
    return m.size;
  }
  async removeViewer(buskId: string, sessionId: string) {
    const m = this.viewerMap.get(buskId);
    if (!m || !m.delete(sessionId)) return null;
    return m.size;
  }
  async viewers(buskId: string) { return Object.fromEntries([...(this.viewerMap.get(buskId) ?? new Map()).entries()].map(([k, v]) => [k, { ...v }])); }
  async appendChat(buskId: string, msg: ChatMessage, cap: number) {
    let l = this.chats.get(buskId);
    if (!l) this.chats.set(buskId, (l = []));
    l.push(msg);
    if (l.length > cap) l.splice(0, l.length - cap);
  }
  async chatHistory(buskId: string, n: number) { return (this.chats.get(buskId) ?? []).slice(-n); }
  async nodeAlive(nodeId: string, ttlMs: number) {
    const was = (this.nodes.get(nodeId) ?? 0) > Date.now();
    this.nodes.set(nodeId, Date.now() + ttlMs);
    return was;
  }
  // One node: nobody ends a busk for it.
  async markEnded() {}
  async wasEnded() { return false; }
  async nodeGone(nodeId: string) { this.nodes.delete(nodeId); }
  async isNodeAlive(nodeId: string) { return (this.nodes.get(nodeId) ?? 0) > Date.now(); }
  async claim(key: string, ttlMs: number) {
    const now = Date.now();
    if ((this.claims.get(key) ?? 0) > now) return false;
    this.claims.set(key, now + ttlMs);
    return true;
  }
  async ping() { return true; }
  async close() {}
}
