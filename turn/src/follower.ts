// Follows coturn's log as coturn writes it, with `tail -F` semantics: it keeps reading the file it
// has open until its end, and only then switches to the file now at the target path (rename +
// create, coturn's daily dated file, a glob's newest match). copytruncate is detected by the size
// going down; the part we had not read yet is then read from the rotated copy. `-` reads stdin
// (journald: `journalctl -fu coturn -o short | npm run turn:watch -- -`).
// Polling on purpose: fs.watch misses renames on some filesystems (overlay, NFS) and a 250 ms poll
// of one file costs nothing.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import readline from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { resolveLogFile, rotatedCopyOf } from './log-files';

export interface LogFollowerOptions {
  /** Read the file that is there at start from its beginning (rebuilds state) or only new lines. Default true. */
  fromStart?: boolean;
  pollMs?: number;
  /** For '-': the stream to read instead of process.stdin (tests). */
  stream?: Readable;
}

export interface RotateInfo { from: string; to: string; reason: 'renamed' | 'truncated' | 'new-file' }

interface Current { path: string; fh: fs.promises.FileHandle; ino: number; dev: number; pos: number }

const CHUNK = 64 * 1024;

export class LogFollower extends EventEmitter {
  private cur: Current | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = true;
  private opened = 0;
  private partial = '';
  private decoder = new StringDecoder('utf8');
  private rl: readline.Interface | null = null;
  private readonly fromStart: boolean;
  private readonly pollMs: number;
  /** Lines emitted, for tests and the watch view. */
  lines = 0;

  constructor(readonly target: string, private readonly opts: LogFollowerOptions = {}) {
    super();
    this.fromStart = opts.fromStart ?? true;
    this.pollMs = opts.pollMs ?? 250;
  }

  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    if (this.target === '-') {
      const input = this.opts.stream ?? process.stdin;
      this.rl = readline.createInterface({ input, crlfDelay: Infinity });
      this.rl.on('line', (l) => this.emitLine(l));
      this.rl.on('close', () => this.emit('end'));
      return this;
    }
    const loop = async () => {
      if (this.stopped) return;
      await this.poll();
      if (!this.stopped) this.timer = setTimeout(loop, this.pollMs);
    };
    void loop();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.rl?.close();
    this.rl = null;
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    if (this.cur) await this.cur.fh.close().catch(() => undefined);
    this.cur = null;
  }

  /** One round: read what is new, then check whether the target now means another file. */
  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (!this.cur) {
        const p = resolveLogFile(this.target);
        if (p) await this.open(p, this.opened === 0 && !this.fromStart);
        if (this.cur) await this.drain(this.cur);
        return;
      }
      await this.drain(this.cur);
      const next = resolveLogFile(this.target);
      if (!next) return; // renamed away and not recreated yet: keep the old one, check again later
      let st: fs.Stats;
      try { st = fs.statSync(next); } catch { return; }
      if (next === this.cur.path && st.ino === this.cur.ino && st.dev === this.cur.dev) return;
      // Another file is the log now. The old one may still have got lines after our read above:
      // finish it first, so nothing written before the switch is lost.
      const old = this.cur;
      await this.drain(old);
      this.flushPartial();
      await old.fh.close().catch(() => undefined);
      this.cur = null;
      await this.open(next, false);
      this.emit('rotate', { from: old.path, to: next, reason: next === old.path ? 'renamed' : 'new-file' } satisfies RotateInfo);
      if (this.cur) await this.drain(this.cur);
    } catch (err) {
      this.emit('warning', err);
    } finally {
      this.busy = false;
    }
  }

  private async open(p: string, atEnd: boolean): Promise<void> {
    try {
      const fh = await fs.promises.open(p, 'r');
      const st = await fh.stat();
      this.cur = { path: p, fh, ino: st.ino, dev: st.dev, pos: atEnd ? st.size : 0 };
      this.opened++;
      this.decoder = new StringDecoder('utf8');
      this.partial = '';
    } catch (err) {
      this.emit('warning', err);
    }
  }

  private async drain(c: Current): Promise<void> {
    const st = await c.fh.stat();
    if (st.size < c.pos) {
      // copytruncate: the file was copied elsewhere and emptied. What we had not read is in the copy.
      const copy = rotatedCopyOf(c.path, c.pos);
      if (copy) await this.readRange(copy, c.pos);
      this.flushPartial();
      this.emit('rotate', { from: c.path, to: c.path, reason: 'truncated' } satisfies RotateInfo);
      c.pos = 0;
      this.decoder = new StringDecoder('utf8');
    }
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await c.fh.read(buf, 0, CHUNK, c.pos);
      if (bytesRead <= 0) break;
      c.pos += bytesRead;
      this.push(this.decoder.write(buf.subarray(0, bytesRead)));
    }
  }

  /** Reads `file` from `from` to its end (the missed tail of a copytruncated log). */
  private async readRange(file: string, from: number): Promise<void> {
    const fh = await fs.promises.open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let pos = from;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        if (bytesRead <= 0) break;
        pos += bytesRead;
        this.push(this.decoder.write(buf.subarray(0, bytesRead)));
      }
    } finally {
      await fh.close();
    }
  }

  private push(text: string): void {
    if (!text) return;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) this.emitLine(l);
  }

  /** coturn writes whole lines; a line without its newline at a switch is still a line. */
  private flushPartial(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.emitLine(rest);
  }

  private emitLine(l: string): void {
    const line = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (!line) return;
    this.lines++;
    this.emit('line', line);
  }
}
