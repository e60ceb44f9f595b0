// Keeps the live picture of a coturn server from its log lines: active sessions (user, realm,
// client address, age, bytes relayed), totals, authentication failures (by user, realm, client
// address, per minute) and plain-words diagnoses. Feed it lines (LogFollower 'line' events) or
// parsed events; read snapshot() / metrics(); listen to 'event' for the sidecar.
import { EventEmitter } from 'node:events';
import { CoturnEvent, RequestEvent } from './events';
import { parseCoturnLine } from './parser';
import { parseSharedSecretUsername } from './credentials';
import { BoundedCounts, MinuteCounter } from './window';
import { diagnose, Diagnosis, Evidence } from './diagnosis';
import { renderMetrics } from './metrics';

export interface TurnMonitorOptions {
  /** Clock for lines without an absolute time (coturn's default `uptime: ` prefix). */
  now?: () => number;
  /** TURN_TTL_S: lets diagnoses estimate clock skew from credential expiries. */
  ttlSeconds?: number;
  /** Window of the diagnoses, minutes. */
  diagnosisWindowMinutes?: number;
  /** A session seen only with 401s and no username for this long counts as an unanswered challenge. */
  challengeGraceMs?: number;
  /** coturn's configured realm, when known: 401s in another realm are diagnosed as a wrong realm. */
  realm?: string;
}

export interface Bytes { rp: number; rb: number; sp: number; sb: number }

export interface ActiveSession {
  id: string;
  user: string;
  realm: string;
  clientAddress: string | null;
  transport: string | null;
  startedAt: string;
  ageSeconds: number;
  lifetimeSeconds: number;
  peers: number;
  /** Client side (client ↔ coturn) and peer side (coturn ↔ peers) counters, from coturn's usage lines. */
  client: Bytes;
  peer: Bytes;
  /** Bytes coturn relayed for this session on the peer side (received + sent). */
  relayedBytes: number;
}

export interface TurnSnapshot {
  at: string;
  activeSessions: ActiveSession[];
  totals: {
    sessionsStarted: number;
    sessionsEnded: number;
    activeSessions: number;
    relayedBytes: number;
    client: Bytes;
    peer: Bytes;
    requests: Record<string, { success: number; error: number }>;
    errorsByCode: Record<string, number>;
    quotaRejections: number;
    peersDenied: number;
    /** unreadable: session lines cut (by a terminal) where it mattered; cut: lines read although cut. */
    lines: { total: number; parsed: number; unknown: number; unreadable: number; cut: number };
  };
  authFailures: {
    total: number;
    byUser: Record<string, number>;
    byRealm: Record<string, number>;
    byClientAddress: Record<string, number>;
    byProblem: Record<string, number>;
    perMinute: Array<{ minute: string; count: number }>;
    lastMinute: number;
    recent: AuthFailure[];
    /** 401s answered to requests without a username that the client never followed up (see diagnoses). */
    unansweredChallenges: number;
  };
  clockSkewSeconds: number | null;
  diagnoses: Diagnosis[];
}

export interface AuthFailure {
  at: string;
  session: string;
  user: string;
  realm: string;
  clientAddress: string | null;
  code: number;
  /** What coturn said about it, when it did: expired or wrong shared-secret credentials, wrong realm... */
  problem: 'expired-credentials' | 'wrong-secret' | 'no-credentials' | 'incorrect-credentials' | 'wrong-realm' | 'wrong-username' | 'unauthorized';
}

/** Events for the sidecar and anyone else who wants a stream rather than a snapshot. */
export type TurnEvent =
  | { type: 'session-started'; at: string; session: string; user: string; realm: string }
  | { type: 'session-ended'; at: string; session: string; user: string; realm: string; clientAddress: string | null; transport: string | null;
      durationSeconds: number; client: Bytes; peer: Bytes; relayedBytes: number; reason: string }
  | ({ type: 'auth-failure' } & AuthFailure)
  | { type: 'quota-reached'; at: string; session: string; user: string; realm: string }
  | { type: 'peer-denied'; at: string; session: string | null; peer: string; rule: string }
  | { type: 'diagnosis'; at: string; diagnosis: Diagnosis };

interface SessionState {
  id: string;
  user: string;
  realm: string;
  clientAddress: string | null;
  transport: string | null;
  firstSeen: number;
  startedAt: number | null; // set by `new`: an allocation exists
  lastRefresh: number;
  lifetime: number;
  peers: Set<string>;
  client: Bytes;
  peer: Bytes;
  ended: boolean;
  // authentication bookkeeping
  emptyChallenges: number;
  sawUser: boolean;
  challengeResolved: boolean;
  unansweredCounted: number;
  failures: number;
  failuresAttributed: string | null; // the client-address key the failures are counted under
}

const zero = (): Bytes => ({ rp: 0, rb: 0, sp: 0, sb: 0 });
const addBytes = (a: Bytes, b: Bytes) => { a.rp += b.rp; a.rb += b.rb; a.sp += b.sp; a.sb += b.sb; };
const UNKNOWN_ADDRESS = 'unknown';
const MAX_SESSIONS = 20000;
const RECENT_FAILURES = 20;

export class TurnMonitor extends EventEmitter {
  private readonly now: () => number;
  private readonly ttlSeconds: number | null;
  private readonly windowMin: number;
  private readonly graceMs: number;

  private sessions = new Map<string, SessionState>();
  private totals = {
    sessionsStarted: 0, sessionsEnded: 0, client: zero(), peer: zero(),
    requests: new Map<string, { success: number; error: number }>(), errorsByCode: new BoundedCounts(100),
    quotaRejections: 0, peersDenied: 0, lines: 0, parsed: 0, unknown: 0, unreadable: 0, cut: 0,
  };
  private failures = {
    total: 0, byUser: new BoundedCounts(), byRealm: new BoundedCounts(), byClient: new BoundedCounts(), byProblem: new BoundedCounts(20),
    perMinute: new MinuteCounter(60), recent: [] as AuthFailure[],
  };
  // Windowed evidence for the diagnoses.
  private unanswered = new MinuteCounter(60);
  private unansweredSessions = new MinuteCounter(60);
  private authenticated = new MinuteCounter(60);
  private expired = { counter: new MinuteCounter(60), users: new BoundedCounts(50), log: [] as Array<{ at: number; by: number }> };
  private wrongSecret = { counter: new MinuteCounter(60), users: new BoundedCounts(50) };
  private quota = { counter: new MinuteCounter(60), users: new BoundedCounts(50) };
  private denied = { counter: new MinuteCounter(60), peers: new BoundedCounts(50) };
  private realms = new BoundedCounts(20);
  private realmMissing = new MinuteCounter(60);
  private realmWrong = { counter: new MinuteCounter(60), realms: new BoundedCounts(20) };
  private readonly expectedRealm: string | null;
  private skewSeconds: number | null = null;
  /** coturn 4.6.1 writes "Cannot find credentials" without a session id, just before the 401 it causes. */
  private lastAuthProblem: { problem: AuthFailure['problem']; user?: string; session?: string } | null = null;
  private lastDiagnoses = new Map<string, number>();

  constructor(opts: TurnMonitorOptions = {}) {
    super();
    this.now = opts.now ?? Date.now;
    this.ttlSeconds = opts.ttlSeconds ?? null;
    this.windowMin = opts.diagnosisWindowMinutes ?? 5;
    this.graceMs = opts.challengeGraceMs ?? 10000;
    this.expectedRealm = opts.realm || null;
  }

  /** One raw log line. Never throws. */
  feed(line: string): void {
    this.totals.lines++;
    const ev = parseCoturnLine(line, this.now());
    if (!ev) return;
    this.handle(ev);
  }

  /** An already parsed event (tests, or a caller that parses itself). Never throws. */
  handle(ev: CoturnEvent): void {
    try {
      if (ev.kind === 'unknown') { this.totals.unknown++; return; }
      if (ev.kind === 'unreadable') { this.totals.unreadable++; return; }
      this.totals.parsed++;
      if (ev.cut) this.totals.cut++;
      this.apply(ev);
    } catch (err) {
      // A monitor bug must not break the log follower or the signaling service.
      this.emit('error-internal', err);
    }
  }

  private apply(ev: CoturnEvent): void {
    const at = ev.at ?? this.now();
    switch (ev.kind) {
      case 'session-new':
      case 'session-refreshed': {
        const s = this.session(ev.session, at);
        s.user = ev.user; s.realm = ev.realm; s.lifetime = ev.lifetime; s.lastRefresh = at;
        if (ev.realm) this.realms.add(ev.realm);
        this.noteUser(s, at);
        if (ev.kind === 'session-new' && s.startedAt === null) {
          s.startedAt = at;
          this.totals.sessionsStarted++;
          this.checkSkew(ev.user, at);
          this.emitEvent({ type: 'session-started', at: iso(at), session: s.id, user: s.user, realm: s.realm });
        }
        return;
      }
      case 'usage': {
        const s = this.sessions.get(ev.session);
        const b = { rp: ev.rp, rb: ev.rb, sp: ev.sp, sb: ev.sb };
        // coturn reports deltas since its previous usage line for the session, so they add up.
        if (ev.side === 'peer') { addBytes(this.totals.peer, b); if (s) addBytes(s.peer, b); }
        else { addBytes(this.totals.client, b); if (s) addBytes(s.client, b); }
        return;
      }
      case 'session-closed': {
        const s = this.session(ev.session, at);
        if (ev.remote) this.setClientAddress(s, ev.remote);
        const t = /^(TCP|UDP|TLS\/TCP|DTLS|SCTP|TLS\/SCTP)\b/.exec(ev.reason);
        if (t) s.transport = t[1];
        if (ev.user) s.user = ev.user;
        if (ev.stage === 2) this.end(s, at, ev.reason);
        return;
      }
      case 'session-delete': {
        const s = this.sessions.get(ev.session);
        if (s) this.end(s, at, 'deleted');
        return;
      }
      case 'request': return this.request(ev, at);
      case 'auth-problem': {
        const problem: AuthFailure['problem'] = ev.problem === 'no-credentials' ? this.classifyMissing(ev.user, at) : ev.problem;
        this.lastAuthProblem = { problem, user: ev.user, session: ev.session };
        return;
      }
      case 'peer': {
        const s = this.sessions.get(ev.session);
        if (!s) return;
        if (ev.action === 'updated') s.peers.add(ev.peer); else s.peers.delete(ev.peer);
        return;
      }
      case 'peer-denied': {
        this.totals.peersDenied++;
        this.denied.counter.add(at);
        this.denied.peers.add(ev.peer);
        this.emitEvent({ type: 'peer-denied', at: iso(at), session: ev.session ?? null, peer: ev.peer, rule: ev.rule });
        return;
      }
      case 'socket': {
        const s = this.sessions.get(ev.session);
        if (!s) return;
        if (ev.transport && ev.transport !== 'UNKNOWN') s.transport = ev.transport;
        // The socket lines name the client's address for client sockets; relay sockets close with "by peer".
        if (ev.remote && !s.clientAddress && ev.event !== 'other') this.setClientAddress(s, ev.remote);
        return;
      }
      case 'client-connected':
      case 'relay-addr':
      case 'unknown':
      case 'unreadable':
        return;
    }
  }

  private request(ev: RequestEvent, at: number): void {
    const s = this.session(ev.session, at);
    if (ev.realm) { s.realm = ev.realm; }
    const r = this.totals.requests.get(ev.method) ?? { success: 0, error: 0 };
    if (ev.success) r.success++; else r.error++;
    this.totals.requests.set(ev.method, r);
    if (ev.success) { if (ev.user) { s.user = ev.user; this.noteUser(s, at); } return; }
    this.totals.errorsByCode.add(String(ev.code));
    if (ev.code === 401) this.checkRealm(ev.realm, at);

    if (ev.code === 401 && !ev.user) {
      // The normal first step of every allocation (the client learns realm and nonce): only a
      // problem when the client never answers it with a username (see sweepChallenges).
      s.emptyChallenges++;
      this.lastAuthProblem = null; // "Cannot find credentials of user <>": nothing to add
      // A second challenge on one session means the first was not answered either.
      if (s.sawUser || s.emptyChallenges >= 2) this.countUnanswered(s, at, s.emptyChallenges - s.unansweredCounted - (s.sawUser ? 1 : 0));
      return;
    }
    if (ev.user) this.noteUser(s, at);
    if (ev.code === 401) {
      s.user = ev.user;
      let problem: AuthFailure['problem'] = 'unauthorized';
      const p = this.lastAuthProblem;
      if (p && (p.session === undefined || p.session === ev.session) && (p.user === undefined || p.user === ev.user)) problem = p.problem;
      this.lastAuthProblem = null;
      this.authFailure(s, ev, at, problem);
      return;
    }
    if (ev.code === 486) {
      this.totals.quotaRejections++;
      // coturn logs the refused ALLOCATE and then the same error for the message as a whole: count the request once.
      if (ev.method === 'message') return;
      this.quota.counter.add(at);
      this.quota.users.add(ev.user || '(none)');
      this.emitEvent({ type: 'quota-reached', at: iso(at), session: s.id, user: ev.user, realm: ev.realm });
    }
  }

  private authFailure(s: SessionState, ev: RequestEvent, at: number, problem: AuthFailure['problem']): void {
    const f = this.failures;
    f.total++;
    f.byUser.add(ev.user);
    f.byRealm.add(ev.realm || '(none)');
    f.byProblem.add(problem);
    f.perMinute.add(at);
    const key = s.clientAddress ?? UNKNOWN_ADDRESS;
    f.byClient.add(key);
    s.failures++;
    s.failuresAttributed = key;
    if (problem === 'expired-credentials') {
      this.expired.counter.add(at);
      this.expired.users.add(ev.user);
      const parsed = parseSharedSecretUsername(ev.user);
      if (parsed) this.expired.log.push({ at, by: at / 1000 - parsed.expiry });
      if (this.expired.log.length > 1000) this.expired.log.splice(0, this.expired.log.length - 1000);
    } else if (problem === 'wrong-secret') {
      this.wrongSecret.counter.add(at);
      this.wrongSecret.users.add(ev.user);
    }
    const failure: AuthFailure = { at: iso(at), session: s.id, user: ev.user, realm: ev.realm, clientAddress: s.clientAddress, code: ev.code ?? 401, problem };
    f.recent.push(failure);
    if (f.recent.length > RECENT_FAILURES) f.recent.shift();
    this.emitEvent({ type: 'auth-failure', ...failure });
  }

  /** A 401 in no realm (coturn has none) or in one other than the configured realm. */
  private checkRealm(realm: string, at: number): void {
    if (realm === '') this.realmMissing.add(at);
    else if (this.expectedRealm && realm !== this.expectedRealm) { this.realmWrong.counter.add(at); this.realmWrong.realms.add(realm); }
  }

  /** "Cannot find credentials" means different things for shared-secret usernames: expired, or a wrong HMAC. */
  private classifyMissing(user: string | undefined, at: number): AuthFailure['problem'] {
    const parsed = user ? parseSharedSecretUsername(user) : null;
    if (!parsed) return 'no-credentials';
    return parsed.expiry * 1000 < at ? 'expired-credentials' : 'wrong-secret';
  }

  /** A credential arriving with more than TTL left was issued by a clock ahead of coturn's. */
  private checkSkew(user: string, at: number): void {
    if (!this.ttlSeconds) return;
    const parsed = parseSharedSecretUsername(user);
    if (!parsed) return;
    const ahead = parsed.expiry - at / 1000 - this.ttlSeconds;
    // Keep the largest recent lead: credentials used later than issued only look *less* ahead.
    this.skewSeconds = this.skewSeconds === null ? ahead : Math.max(this.skewSeconds * 0.9 + ahead * 0.1, ahead);
  }

  private noteUser(s: SessionState, at: number): void {
    if (s.sawUser) return;
    s.sawUser = true;
    this.authenticated.add(at);
    s.challengeResolved = true;
  }

  private countUnanswered(s: SessionState, at: number, n: number): void {
    if (n <= 0) return;
    if (s.unansweredCounted === 0) this.unansweredSessions.add(at, 1);
    s.unansweredCounted += n;
    this.unanswered.add(at, n);
  }

  /** Sessions that got only 401s without ever sending a username, after a grace period. */
  private sweep(nowMs: number): void {
    for (const s of this.sessions.values()) {
      if (!s.sawUser && !s.challengeResolved && s.emptyChallenges > s.unansweredCounted && nowMs - s.firstSeen >= this.graceMs) {
        s.challengeResolved = true;
        this.countUnanswered(s, nowMs, s.emptyChallenges - s.unansweredCounted);
      }
      const dead =
        (s.ended) ||
        (s.startedAt === null && nowMs - s.firstSeen > Math.max(this.graceMs, 120000)) ||
        // No closed line arrived (lost or rotated away): coturn drops an allocation at lifetime end.
        (s.startedAt !== null && nowMs - s.lastRefresh > (s.lifetime + 120) * 1000);
      if (dead) {
        if (s.startedAt !== null && !s.ended) this.end(s, nowMs, 'expired (no close line seen)');
        this.sessions.delete(s.id);
      }
    }
  }

  private session(id: string, at: number): SessionState {
    let s = this.sessions.get(id);
    if (!s) {
      s = {
        id, user: '', realm: '', clientAddress: null, transport: null, firstSeen: at, startedAt: null, lastRefresh: at, lifetime: 0,
        peers: new Set(), client: zero(), peer: zero(), ended: false,
        emptyChallenges: 0, sawUser: false, challengeResolved: false, unansweredCounted: 0, failures: 0, failuresAttributed: null,
      };
      this.sessions.set(id, s);
      if (this.sessions.size > MAX_SESSIONS) this.sweep(this.now());
    }
    return s;
  }

  private setClientAddress(s: SessionState, addr: string): void {
    s.clientAddress = addr;
    // Failures counted before coturn named the address move from "unknown" to it.
    if (s.failures > 0 && s.failuresAttributed === UNKNOWN_ADDRESS) {
      this.failures.byClient.add(UNKNOWN_ADDRESS, -s.failures);
      this.failures.byClient.add(addr, s.failures);
      s.failuresAttributed = addr;
    }
  }

  private end(s: SessionState, at: number, reason: string): void {
    if (s.ended) return;
    s.ended = true;
    if (s.startedAt === null) return; // never allocated: nothing to report as a session
    this.totals.sessionsEnded++;
    this.emitEvent({
      type: 'session-ended', at: iso(at), session: s.id, user: s.user, realm: s.realm, clientAddress: s.clientAddress, transport: s.transport,
      durationSeconds: Math.max(0, Math.round((at - s.startedAt) / 1000)), client: { ...s.client }, peer: { ...s.peer },
      relayedBytes: s.peer.rb + s.peer.sb, reason,
    });
  }

  private emitEvent(e: TurnEvent): void {
    this.emit('event', e);
  }

  /** Active sessions are the allocations coturn holds now (a `new` line seen, no close yet). */
  activeSessions(nowMs = this.now()): ActiveSession[] {
    const out: ActiveSession[] = [];
    for (const s of this.sessions.values()) {
      if (s.startedAt === null || s.ended) continue;
      out.push({
        // coturn (4.6) writes socket lines for TCP/TLS client connections but none for UDP
        // allocations: a session with no transport seen is a UDP one.
        id: s.id, user: s.user, realm: s.realm, clientAddress: s.clientAddress, transport: s.transport ?? 'UDP',
        startedAt: iso(s.startedAt), ageSeconds: Math.max(0, Math.round((nowMs - s.startedAt) / 1000)), lifetimeSeconds: s.lifetime,
        peers: s.peers.size, client: { ...s.client }, peer: { ...s.peer }, relayedBytes: s.peer.rb + s.peer.sb,
      });
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  diagnoses(nowMs = this.now()): Diagnosis[] {
    const w = this.windowMin;
    const recentExpired = this.expired.log.filter((x) => x.at > nowMs - w * 60000);
    const evidence: Evidence = {
      windowMinutes: w,
      unanswered401s: this.unanswered.sum(nowMs, w),
      unansweredSessions: this.unansweredSessions.sum(nowMs, w),
      authenticatedSessions: this.authenticated.sum(nowMs, w),
      realms: Object.keys(this.realms.toObject()),
      realm: {
        missing: this.realmMissing.sum(nowMs, w), wrong: this.realmWrong.counter.sum(nowMs, w),
        wrongRealms: Object.keys(this.realmWrong.realms.toObject(10)), expected: this.expectedRealm,
      },
      expired: {
        count: this.expired.counter.sum(nowMs, w), users: Object.keys(this.expired.users.toObject(20)),
        maxExpiredForS: recentExpired.reduce((m, x) => Math.max(m, x.by), 0),
        minExpiredForS: recentExpired.reduce((m, x) => Math.min(m, x.by), Infinity) === Infinity ? 0 : recentExpired.reduce((m, x) => Math.min(m, x.by), Infinity),
      },
      wrongSecret: { count: this.wrongSecret.counter.sum(nowMs, w), users: Object.keys(this.wrongSecret.users.toObject(20)) },
      skewSeconds: this.skewSeconds,
      ttlSeconds: this.ttlSeconds,
      quota: { count: this.quota.counter.sum(nowMs, w), users: Object.keys(this.quota.users.toObject(20)) },
      peerDenied: { count: this.denied.counter.sum(nowMs, w), peers: Object.keys(this.denied.peers.toObject(20)) },
    };
    return diagnose(evidence);
  }

  /**
   * Re-evaluates time-based state (grace periods, diagnoses) and emits a 'diagnosis' event for each
   * diagnosis that is new or whose count grew. Call it periodically (the sidecar and watch do).
   */
  tick(nowMs = this.now()): Diagnosis[] {
    this.sweep(nowMs);
    const ds = this.diagnoses(nowMs);
    const seen = new Set<string>();
    for (const d of ds) {
      seen.add(d.id);
      if ((this.lastDiagnoses.get(d.id) ?? 0) < d.count) this.emitEvent({ type: 'diagnosis', at: iso(nowMs), diagnosis: d });
      this.lastDiagnoses.set(d.id, d.count);
    }
    for (const id of [...this.lastDiagnoses.keys()]) if (!seen.has(id)) this.lastDiagnoses.delete(id);
    return ds;
  }

  snapshot(nowMs = this.now()): TurnSnapshot {
    this.sweep(nowMs);
    const active = this.activeSessions(nowMs);
    const t = this.totals;
    return {
      at: iso(nowMs),
      activeSessions: active,
      totals: {
        sessionsStarted: t.sessionsStarted, sessionsEnded: t.sessionsEnded, activeSessions: active.length,
        relayedBytes: t.peer.rb + t.peer.sb, client: { ...t.client }, peer: { ...t.peer },
        requests: Object.fromEntries([...t.requests.entries()].map(([k, v]) => [k, { ...v }])),
        errorsByCode: t.errorsByCode.toObject(), quotaRejections: t.quotaRejections, peersDenied: t.peersDenied,
        lines: { total: t.lines, parsed: t.parsed, unknown: t.unknown, unreadable: t.unreadable, cut: t.cut },
      },
      authFailures: {
        total: this.failures.total,
        byUser: this.failures.byUser.toObject(), byRealm: this.failures.byRealm.toObject(),
        byClientAddress: this.failures.byClient.toObject(), byProblem: this.failures.byProblem.toObject(),
        perMinute: this.failures.perMinute.series(nowMs), lastMinute: this.failures.perMinute.sum(nowMs, 1),
        recent: [...this.failures.recent],
        unansweredChallenges: this.unanswered.sum(nowMs, 60),
      },
      clockSkewSeconds: this.skewSeconds === null ? null : Math.round(this.skewSeconds),
      diagnoses: this.diagnoses(nowMs),
    };
  }

  /** Prometheus text exposition (the signaling service appends it to /metrics). */
  metrics(nowMs = this.now()): string {
    return renderMetrics(this.snapshot(nowMs));
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
