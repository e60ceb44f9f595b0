// Every diagnosis with the time it started and ended: the ops page answers "when did it start?".
// Fed the set of diagnoses active now, again and again; it opens an entry for a new id, keeps the
// latest message of an open one, and closes the entries whose id is gone.
import { Ring } from './ring';

export interface ActiveDiagnosis {
  id: string;
  /** turn: the coturn log monitor; service: this node's own checks (media, state, busks). */
  source: 'turn' | 'service';
  severity: 'warning' | 'error';
  message: string;
}

export interface DiagnosisEntry extends ActiveDiagnosis {
  startedAt: string;
  /** null while it lasts. */
  endedAt: string | null;
}

export class DiagnosisTimeline {
  private open = new Map<string, DiagnosisEntry>();
  private closed: Ring<DiagnosisEntry>;

  constructor(keepClosed = 200) {
    this.closed = new Ring(keepClosed);
  }

  update(active: ActiveDiagnosis[], nowMs: number): void {
    const seen = new Set<string>();
    for (const d of active) {
      const key = `${d.source}:${d.id}`;
      seen.add(key);
      const e = this.open.get(key);
      if (e) Object.assign(e, { severity: d.severity, message: d.message });
      else this.open.set(key, { ...d, startedAt: new Date(nowMs).toISOString(), endedAt: null });
    }
    for (const [key, e] of this.open) {
      if (seen.has(key)) continue;
      e.endedAt = new Date(nowMs).toISOString();
      this.open.delete(key);
      this.closed.push(e);
    }
  }

  /** Open ones first, then the ended ones, newest first. */
  entries(): DiagnosisEntry[] {
    const byStart = (a: DiagnosisEntry, b: DiagnosisEntry) => b.startedAt.localeCompare(a.startedAt);
    return [...[...this.open.values()].sort(byStart), ...this.closed.toArray().reverse()].map((e) => ({ ...e }));
  }
}
