// Which file is "coturn's log" right now. coturn names its log file itself: with `log-file=/x/turn.log`
// and without `simple-log` it writes /x/turn_YYYY-MM-DD.log and starts a new one each day; without
// any log-file Debian's coturn writes /var/log/turnserver/turn_<pid>_YYYY-MM-DD.log (or /var/log/...).
// So a target is either an existing file, a glob (`*`, `?` in the file name), or a log-file setting
// whose dated files we find ourselves.
import fs from 'node:fs';
import path from 'node:path';

export function hasGlob(p: string): boolean {
  return /[*?]/.test(path.basename(p));
}

function globToRegExp(name: string): RegExp {
  const esc = name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

/** coturn's dated name pattern for a `log-file` setting (same rule as coturn: `<base>_<date><ext>`). */
export function coturnDatedPattern(logFile: string): string {
  const dir = path.dirname(logFile);
  const base = path.basename(logFile);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 && base.length - dot >= 2 ? base.slice(dot) : '.log';
  const sep = /[-_]$/.test(stem) ? '' : '_';
  return path.join(dir, `${stem}${sep}*${ext}`);
}

/** Newest file matching a glob (by mtime, then name: dated names sort by date). */
export function newestMatch(pattern: string): string | null {
  const dir = path.dirname(pattern);
  const re = globToRegExp(path.basename(pattern));
  let best: { p: string; mtime: number } | null = null;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return null; }
  for (const n of names) {
    if (!re.test(n) || n.endsWith('.gz')) continue;
    const p = path.join(dir, n);
    let st: fs.Stats;
    try { st = fs.statSync(p); } catch { continue; }
    if (!st.isFile()) continue;
    if (!best || st.mtimeMs > best.mtime || (st.mtimeMs === best.mtime && p > best.p)) best = { p, mtime: st.mtimeMs };
  }
  return best?.p ?? null;
}

/** The file to follow now for `target`, or null when none exists yet. */
export function resolveLogFile(target: string): string | null {
  if (hasGlob(target)) return newestMatch(target);
  if (fs.existsSync(target)) return target;
  return newestMatch(coturnDatedPattern(target));
}

/**
 * After a copytruncate rotation, the lines we had not read yet are in the copy (`turn.log.1`,
 * `turn.log-20260210`, ...). Returns the newest sibling that starts with the log's name and is at
 * least `minSize` long, so the follower can read the missed tail from it.
 */
export function rotatedCopyOf(file: string, minSize: number): string | null {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let best: { p: string; mtime: number } | null = null;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return null; }
  for (const n of names) {
    if (n === base || !n.startsWith(base) || n.endsWith('.gz')) continue;
    const p = path.join(dir, n);
    try {
      const st = fs.statSync(p);
      if (st.isFile() && st.size >= minSize && (!best || st.mtimeMs > best.mtime)) best = { p, mtime: st.mtimeMs };
    } catch { /* vanished */ }
  }
  return best?.p ?? null;
}
