// The terminal summary of a monitor snapshot (pure: snapshot in, text out).
import type { TurnSnapshot } from './monitor';

const bytes = (n: number) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`;
const age = (s: number) => s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
const pad = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n));
const top = (o: Record<string, number>, n = 5) => Object.entries(o).slice(0, n).map(([k, v]) => `${k} ${v}`).join(', ') || '-';

export function renderSummary(s: TurnSnapshot, source: string, opts: { color?: boolean; maxSessions?: number } = {}): string {
  const c = opts.color ?? true;
  const b = (x: string) => (c ? `\x1b[1m${x}\x1b[0m` : x);
  const red = (x: string) => (c ? `\x1b[31m${x}\x1b[0m` : x);
  const yellow = (x: string) => (c ? `\x1b[33m${x}\x1b[0m` : x);
  const t = s.totals;
  const out: string[] = [];
  out.push(`${b('coturn')} ${source}   ${s.at}   lines ${t.lines.total} (${t.lines.unknown} not about sessions, ${t.lines.unreadable} unreadable, ${t.lines.cut} read although cut)`);
  out.push('');
  out.push(`${b('Sessions')} active ${t.activeSessions}   started ${t.sessionsStarted}   ended ${t.sessionsEnded}`);
  out.push(`${b('Traffic')}  relayed ${bytes(t.relayedBytes)} (peer in ${bytes(t.peer.rb)}, out ${bytes(t.peer.sb)})   client in ${bytes(t.client.rb)}, out ${bytes(t.client.sb)}`);
  const errs = Object.entries(t.errorsByCode).map(([k, v]) => `${k}×${v}`).join(' ') || 'none';
  out.push(`${b('Requests')} ${Object.entries(t.requests).map(([m, r]) => `${m} ${r.success}/${r.error}`).join('  ') || '-'}   errors ${errs}   quota ${t.quotaRejections}`);
  out.push('');
  const max = opts.maxSessions ?? 15;
  if (s.activeSessions.length) {
    out.push(b(`${pad('session', 20)}${pad('user', 28)}${pad('client', 23)}${pad('age', 9)}${pad('peers', 6)}relayed`));
    for (const a of s.activeSessions.slice(0, max)) {
      out.push(`${pad(a.id, 20)}${pad(a.user, 28)}${pad(a.clientAddress ?? (a.transport ?? '?'), 23)}${pad(age(a.ageSeconds), 9)}${pad(String(a.peers), 6)}${bytes(a.relayedBytes)}`);
    }
    if (s.activeSessions.length > max) out.push(`… and ${s.activeSessions.length - max} more`);
    out.push('');
  }
  const f = s.authFailures;
  out.push(`${b('Auth failures')} ${f.total} (last minute ${f.lastMinute})   unanswered 401s ${f.unansweredChallenges}`);
  if (f.total) {
    out.push(`  by user:   ${top(f.byUser)}`);
    out.push(`  by realm:  ${top(f.byRealm)}`);
    out.push(`  by client: ${top(f.byClientAddress)}`);
    out.push(`  by cause:  ${top(f.byProblem)}`);
    const pm = f.perMinute.slice(-10).map((x) => `${x.minute.slice(11, 16)} ${x.count}`).join('  ');
    out.push(`  per minute: ${pm}`);
  }
  out.push('');
  if (s.diagnoses.length === 0) out.push(`${b('Diagnoses')} none`);
  else {
    out.push(b('Diagnoses'));
    for (const d of s.diagnoses) out.push(`  ${d.severity === 'error' ? red('✖') : yellow('!')} ${d.message}`);
  }
  return out.join('\n') + '\n';
}
