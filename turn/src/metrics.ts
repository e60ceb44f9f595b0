// Prometheus text exposition of a monitor snapshot. Labels only with small, bounded value sets
// (method, code, problem, direction): per-user numbers stay in the JSON snapshot, never in metrics,
// so a username spray cannot explode the time-series count.
import type { TurnSnapshot } from './monitor';
import { DIAGNOSIS_FIXES } from './diagnosis';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function renderMetrics(s: TurnSnapshot): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  const t = s.totals;
  metric('turn_sessions_active', 'gauge', 'TURN allocations coturn holds now (from its log).', [[{}, t.activeSessions]]);
  metric('turn_sessions_started_total', 'counter', 'TURN allocations created.', [[{}, t.sessionsStarted]]);
  metric('turn_sessions_ended_total', 'counter', 'TURN allocations closed.', [[{}, t.sessionsEnded]]);
  metric('turn_bytes_total', 'counter', 'Bytes through coturn by side (client: client<->coturn, peer: coturn<->peers) and direction (as coturn saw it).', [
    [{ side: 'client', direction: 'received' }, t.client.rb], [{ side: 'client', direction: 'sent' }, t.client.sb],
    [{ side: 'peer', direction: 'received' }, t.peer.rb], [{ side: 'peer', direction: 'sent' }, t.peer.sb],
  ]);
  metric('turn_packets_total', 'counter', 'Packets through coturn by side and direction.', [
    [{ side: 'client', direction: 'received' }, t.client.rp], [{ side: 'client', direction: 'sent' }, t.client.sp],
    [{ side: 'peer', direction: 'received' }, t.peer.rp], [{ side: 'peer', direction: 'sent' }, t.peer.sp],
  ]);
  metric('turn_relayed_bytes_active', 'gauge', 'Bytes relayed so far by the allocations still active.',
    [[{}, s.activeSessions.reduce((n, a) => n + a.relayedBytes, 0)]]);
  const req: Array<[Record<string, string>, number]> = [];
  for (const [method, r] of Object.entries(t.requests)) {
    req.push([{ method, result: 'success' }, r.success], [{ method, result: 'error' }, r.error]);
  }
  metric('turn_requests_total', 'counter', 'STUN/TURN requests coturn processed, by method and result.', req);
  metric('turn_request_errors_total', 'counter', 'Error responses by STUN error code.',
    Object.entries(t.errorsByCode).map(([code, n]) => [{ code }, n]));
  metric('turn_auth_failures_total', 'counter', 'Authentication failures (401 to a request that carried a username), by cause.',
    [[{ problem: 'all' }, s.authFailures.total], ...Object.entries(s.authFailures.byProblem).map(([problem, n]) => [{ problem }, n] as [Record<string, string>, number])]);
  metric('turn_unanswered_challenges', 'gauge', '401s without a username that the client never followed up, last hour.', [[{}, s.authFailures.unansweredChallenges]]);
  metric('turn_quota_rejections_total', 'counter', '486 Allocation Quota Reached responses.', [[{}, t.quotaRejections]]);
  metric('turn_peers_denied_total', 'counter', 'Peer addresses refused by denied-peer-ip or loopback rules.', [[{}, t.peersDenied]]);
  if (s.clockSkewSeconds !== null) {
    metric('turn_credential_clock_skew_seconds', 'gauge', 'Estimated lead of the credential issuer\'s clock over coturn\'s.', [[{}, s.clockSkewSeconds]]);
  }
  metric('turn_diagnoses', 'gauge', 'Active plain-words diagnoses (the message: /api/ops/turn), by id, with the fix in a few words.',
    s.diagnoses.map((d) => [{ id: d.id, severity: d.severity, fix: DIAGNOSIS_FIXES[d.id] }, 1]));
  metric('turn_log_lines_total', 'counter', 'coturn log lines read, by outcome (unreadable: a session line cut where it mattered, e.g. by a terminal).', [
    [{ outcome: 'parsed' }, t.lines.parsed], [{ outcome: 'unknown' }, t.lines.unknown], [{ outcome: 'unreadable' }, t.lines.unreadable],
  ]);
  metric('turn_log_lines_cut_total', 'counter', 'coturn log lines read although a terminal had cut them.', [[{}, t.lines.cut]]);
  return lines.join('\n') + '\n';
}
