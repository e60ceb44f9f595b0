// A byte-level STOMP frame parser: a small state machine fed with chunks of any size (a TCP read,
// a WebSocket message). Frames may be split over chunks and many frames may share one chunk.
// Work is done per chunk with indexOf (native) rather than per byte: lines are found by scanning
// for LF, NUL-terminated bodies by scanning for NUL, content-length bodies are copied in one go.
//
// Limits are enforced while bytes arrive, before they are buffered, so a hostile peer cannot make
// the parser hold more than maxFrameBytes; a content-length body is collected as it arrives, never
// allocated up front from the header (a peer announcing 2 MiB and sending 10 bytes holds 10 bytes).
import { EscapeMode, Frame, Headers, newHeaders } from './frame';
import { FrameError } from './errors';
import { unescapeHeader } from './escape';

const LF = 10;
const CR = 13;
const NUL = 0;
const COLON = 58;

export interface ParserLimits {
  /** Command line + header lines + body of one frame, in bytes. */
  maxFrameBytes: number;
  /** Header lines in one frame. */
  maxHeaders: number;
  /** Bytes in one header line (and in the command line). */
  maxHeaderLineBytes: number;
}

export const DEFAULT_PARSER_LIMITS: ParserLimits = { maxFrameBytes: 2 * 1024 * 1024, maxHeaders: 64, maxHeaderLineBytes: 8192 };

const enum State {
  /** Between frames: EOLs here are heart-beats. */
  Idle,
  Command,
  Headers,
  /** content-length given: collecting exactly that many bytes. */
  FixedBody,
  /** After a content-length body: the NUL must come next. */
  Terminator,
  /** No content-length: the body runs to the first NUL. */
  NulBody,
  /** A FrameError was thrown; the stream cannot be resynchronised. */
  Failed,
}

export class FrameParser {
  /** Escaping for frames other than CONNECT/CONNECTED; the session sets it after negotiation. */
  escapeMode: EscapeMode = 'v12';
  /**
   * Strip spaces around header names and values (not CONNECT's). Only for STOMP 1.0 sessions: the
   * 1.0 spec's examples padded headers ("destination: /queue/a") and 1.0 clients copied them;
   * 1.1+ forbids trimming, so there a leading space is part of the value.
   */
  trimHeaders = false;

  private state = State.Idle;
  private lineParts: Buffer[] = [];
  private lineLength = 0;
  private frameBytes = 0;
  private command = '';
  private headers: Headers = newHeaders();
  private headerCount = 0;
  private body: Buffer | null = null;
  /** content-length of the body being collected. */
  private bodyWant = 0;
  private bodyParts: Buffer[] = [];
  private bodyLength = 0;

  constructor(
    private limits: ParserLimits,
    private readonly onFrame: (frame: Frame) => void,
    private readonly onHeartbeat: () => void = () => {},
  ) {}

  /** Changes the frame size limit (the session allows a small CONNECT, then the full size). Applies
   *  to the frame in progress too. */
  set maxFrameBytes(n: number) {
    this.limits = { ...this.limits, maxFrameBytes: n };
  }

  get maxFrameBytes(): number {
    return this.limits.maxFrameBytes;
  }

  /** True while a frame has started but not ended (drives the partial-frame timeout). */
  get inFrame(): boolean {
    return this.state !== State.Idle && this.state !== State.Failed;
  }

  /** Stops parsing for good (the session is closing): later bytes are ignored. */
  stop(): void {
    this.state = State.Failed;
    this.reset();
  }

  /** Feeds bytes; calls onFrame for every complete frame. Throws FrameError on invalid input. */
  push(chunk: Buffer): void {
    if (this.state === State.Failed) return;
    try {
      this.consume(chunk);
    } catch (e) {
      // The spec: an ERROR about a frame SHOULD carry the receipt-id of that frame. CONNECT has none.
      if (e instanceof FrameError && e.receiptId === undefined && this.command !== 'CONNECT' && this.command !== 'STOMP') {
        e.receiptId = this.headers.receipt;
      }
      this.state = State.Failed;
      this.reset();
      throw e;
    }
  }

  private consume(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Idle: {
          const b = chunk[i];
          if (b === LF) {
            this.onHeartbeat();
            i++;
          } else if (b === CR || b === NUL) {
            // CR of a CRLF heart-beat; stray NULs between frames are tolerated as stompjs does.
            i++;
          } else {
            this.state = State.Command;
            this.frameBytes = 0;
          }
          break;
        }
        case State.Command:
        case State.Headers: {
          if (this.state === State.Headers && this.lineLength === 0 && chunk[i] === NUL) {
            // NUL where a header line should start: a frame without the blank line, as the spec's
            // own DISCONNECT and RECEIPT examples are written. Read as an empty body.
            i++;
            this.countBytes(1);
            this.emit(EMPTY);
            break;
          }
          const j = chunk.indexOf(LF, i);
          const end = j < 0 ? n : j;
          this.appendLine(chunk, i, end);
          if (j < 0) return;
          i = j + 1;
          this.countBytes(1);
          this.endLine();
          break;
        }
        case State.FixedBody: {
          const take = Math.min(this.bodyWant - this.bodyLength, n - i);
          // Parts share the chunks' memory; they are joined once, when the body is complete.
          this.bodyParts.push(chunk.subarray(i, i + take));
          this.bodyLength += take;
          i += take;
          if (this.bodyLength === this.bodyWant) {
            const parts = this.bodyParts;
            this.body = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.bodyLength);
            this.bodyParts = [];
            this.state = State.Terminator;
          }
          break;
        }
        case State.Terminator: {
          if (chunk[i] !== NUL) {
            throw new FrameError('missing-null', 'frame body is longer than its content-length header (expected NUL)');
          }
          i++;
          this.countBytes(1);
          this.emit(this.body!);
          break;
        }
        case State.NulBody: {
          const j = chunk.indexOf(NUL, i);
          const end = j < 0 ? n : j;
          if (end > i) {
            this.countBytes(end - i);
            this.bodyParts.push(chunk.subarray(i, end));
            this.bodyLength += end - i;
          }
          if (j < 0) return;
          i = j + 1;
          this.countBytes(1);
          const parts = this.bodyParts;
          const body = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, this.bodyLength);
          this.emit(body);
          break;
        }
        case State.Failed:
          return;
      }
    }
  }

  private countBytes(k: number): void {
    this.frameBytes += k;
    if (this.frameBytes > this.limits.maxFrameBytes) {
      throw new FrameError('frame-too-large', `frame exceeds the maximum of ${this.limits.maxFrameBytes} bytes`);
    }
  }

  private appendLine(chunk: Buffer, from: number, to: number): void {
    if (to === from) return;
    this.countBytes(to - from);
    this.lineLength += to - from;
    if (this.lineLength > this.limits.maxHeaderLineBytes + 1) {
      throw new FrameError('header-too-long', `${this.state === State.Command ? 'command' : 'header'} line exceeds ${this.limits.maxHeaderLineBytes} bytes`);
    }
    this.lineParts.push(chunk.subarray(from, to));
  }

  private takeLine(): string {
    const parts = this.lineParts;
    let line = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.lineLength);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.lineParts = [];
    this.lineLength = 0;
    return line.length === 0 ? '' : line.toString('utf8');
  }

  private endLine(): void {
    const line = this.takeLine();
    if (this.state === State.Command) {
      if (line.length === 0) throw new FrameError('bad-command', 'empty command line');
      this.command = line;
      this.state = State.Headers;
      return;
    }
    if (line.length === 0) {
      this.startBody();
      return;
    }
    if (++this.headerCount > this.limits.maxHeaders) {
      throw new FrameError('too-many-headers', `frame has more than ${this.limits.maxHeaders} headers`);
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new FrameError('malformed-header', `header line without a name or a colon: "${line.slice(0, 40)}"`);
    // CONNECT/CONNECTED are never escaped, so 1.0 clients can connect to a 1.2 server.
    const connect = this.command === 'CONNECT' || this.command === 'STOMP' || this.command === 'CONNECTED';
    const mode = connect ? 'none' : this.escapeMode;
    let key = unescapeHeader(line.slice(0, colon), mode);
    let value = unescapeHeader(line.slice(colon + 1), mode);
    if (this.trimHeaders && !connect) {
      key = key.trim();
      value = value.trim();
    }
    if (!(key in this.headers)) this.headers[key] = value;
  }

  private startBody(): void {
    const cl = this.headers['content-length'];
    if (cl === undefined) {
      this.state = State.NulBody;
      this.bodyParts = [];
      this.bodyLength = 0;
      return;
    }
    if (!/^\s*\d{1,10}\s*$/.test(cl)) throw new FrameError('bad-content-length', `content-length "${cl.slice(0, 20)}" is not a non-negative integer`);
    const len = Number(cl);
    if (this.frameBytes + len + 1 > this.limits.maxFrameBytes) {
      throw new FrameError('frame-too-large', `frame exceeds the maximum of ${this.limits.maxFrameBytes} bytes (content-length ${len})`);
    }
    this.frameBytes += len;
    this.body = len === 0 ? EMPTY : null;
    this.bodyWant = len;
    this.bodyParts = [];
    this.bodyLength = 0;
    this.state = len === 0 ? State.Terminator : State.FixedBody;
  }

  private emit(body: Buffer): void {
    const frame: Frame = { command: this.command, headers: this.headers, body };
    this.reset();
    this.state = State.Idle;
    this.onFrame(frame);
  }

  private reset(): void {
    this.command = '';
    this.headers = newHeaders();
    this.headerCount = 0;
    this.body = null;
    this.bodyWant = 0;
    this.bodyParts = [];
    this.bodyLength = 0;
    this.lineParts = [];
    this.lineLength = 0;
  }
}

const EMPTY = Buffer.alloc(0);
