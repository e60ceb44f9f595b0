// The engine's native addon (kurento/native/srtp-send.c): SRTP protection and the UDP send of a
// forwarded packet in one call, with a cipher context per sender instead of node:crypto's new cipher
// per packet. Built by `npm start` / `npm test`'s set-up (scripts/setup.js, node-gyp with Node's own
// headers); where it could not be built (no C compiler) or the engine's nativeSend option is false
// (ENGINE_NATIVE_SEND=off), the engine runs its JavaScript path, which writes the same bytes.
import fs from 'node:fs';
import path from 'node:path';
import type dgram from 'node:dgram';

/** An SRTP sender's keyed cipher (and HMAC) context, owned by the addon; freed when collected. */
export type NativeContext = { readonly __brand: 'NativeContext' };

export interface NativeSend {
  context(gcm: boolean, key: Buffer, salt: Buffer, auth?: Buffer): NativeContext;
  /** The SRTP packet: header, encrypted payload, tag. */
  protect(ctx: NativeContext, header: Buffer, payload: Buffer, ssrc: number, seq: number, roc: number): Buffer;
  /** Protects and sends on socket `fd` to `sockaddr`: the bytes sent, or -errno (nothing was sent). */
  send(fd: number, ctx: NativeContext, header: Buffer, payload: Buffer, ssrc: number, seq: number, roc: number, sockaddr: Buffer): number;
  /** What sendto() takes on socket `fd` for `ip`:`port`; undefined for an address the addon leaves to dgram. */
  sockaddr(fd: number, ip: string, port: number): Buffer | undefined;
}

export const NATIVE_FILE = 'srtp_send.node';

/**
 * Where the built addon is: node-gyp's output seen from the sources (kurento/src/media), the copy
 * scripts/build-native.js puts in dist/kurento/native (the image has only dist/), and node-gyp's output
 * seen from dist/kurento/src/media.
 */
function candidates(): string[] {
  return [
    path.resolve(__dirname, '../../native/build/Release', NATIVE_FILE),
    path.resolve(__dirname, '../../native', NATIVE_FILE),
    path.resolve(__dirname, '../../../../kurento/native/build/Release', NATIVE_FILE),
  ];
}

export type NativeState = { loaded: true } | { loaded: false; reason: string };
let addon: NativeSend | null = null;
let state: NativeState = { loaded: false, reason: 'not loaded yet' };

function load(): void {
  const file = candidates().find((f) => fs.existsSync(f));
  if (!file) { state = { loaded: false, reason: `${NATIVE_FILE} not built (npm run setup builds it; it needs python3, make and a C compiler)` }; return; }
  try {
    addon = require(file) as NativeSend;
    state = { loaded: true };
  } catch (err) {
    state = { loaded: false, reason: `${file}: ${(err as Error).message}` };
  }
}
load();

/** The addon, or null when the engine runs its JavaScript send path (`nativeState()` says why). */
export function nativeSend(): NativeSend | null {
  return addon;
}

export function nativeState(): NativeState {
  return state;
}

/** On (the default, where built) or off (the engine's nativeSend option, ENGINE_NATIVE_SEND=off): process-wide. */
export function setNativeSend(on: boolean): void {
  if (!on) { addon = null; state = { loaded: false, reason: 'turned off (nativeSend: false, ENGINE_NATIVE_SEND=off)' }; return; }
  if (!addon) load();
}

// dgram keeps its handle behind a symbol (its `_handle` getter is deprecated and warns). The handle
// is null once the socket is closed, so a closed socket's descriptor number, which the kernel may
// give to another file, is never written to.
type Handle = { fd?: number };
let stateSymbol: symbol | null | undefined;
/** The open socket's libuv handle (one object for as long as it is open), or null. */
export function socketHandle(socket: dgram.Socket): Handle | null {
  if (stateSymbol === undefined) stateSymbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol') ?? null;
  if (!stateSymbol) return null;
  return (socket as unknown as Record<symbol, { handle?: Handle | null } | undefined>)[stateSymbol]?.handle ?? null;
}
/** The open socket's file descriptor, or -1 (closed, or a Node whose dgram this does not know). */
export function socketFd(socket: dgram.Socket): number {
  const fd = socketHandle(socket)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}
