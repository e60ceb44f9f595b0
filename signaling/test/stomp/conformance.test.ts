// STOMP 1.2 conformance, clause by clause (https://stomp.github.io/stomp-specification-1.2.html, and
// the 1.0/1.1 behaviour outside suites still probe). Raw frames over TCP and WebSocket; every `it`
// quotes the clause it checks. The wire is read both as bytes (escaping, header order) and as
// frames (through the broker's own parser, configured for the session's version).
import net from 'node:net';
import WebSocket from 'ws';
import { startBroker, Running, waitFor, sleep } from './helpers';
import { AuthError, FrameParser, Frame, openPermissions } from '../../src/stomp';

let r: Running;
const connectHeaders: Record<string, string>[] = [];

beforeAll(async () => {
  r = await startBroker({
    permissions: openPermissions,
    serverName: 'conformance/1.2 (a:b)',
    heartbeat: { sendMs: 100, receiveMs: 100, graceFactor: 3 },
    limits: { maxFrameBytes: 64 * 1024, maxHeaders: 64, maxHeaderLineBytes: 8192, rateLimit: { count: 10000, windowMs: 1000 } },
    authenticator: async (h) => {
      connectHeaders.push({ ...h });
      if (h.passcode === 'wrong') throw new AuthError('bad credentials');
      // A slow authenticator: frames pipelined behind CONNECT wait for it.
      if (h.login === 'slow') await sleep(30);
      return h.login ? { id: h.login, name: h.login, roles: [], anonymous: false } : null;
    },
  });
});
afterAll(() => r.close());

// ---- a raw peer that keeps the bytes and the frames ----

interface Peer {
  send(data: string | Buffer): void;
  next(command?: string, timeoutMs?: number): Promise<Frame>;
  frames: Frame[];
  bytes(): string;
  heartbeats(): number;
  closed(): Promise<void>;
  isClosed(): boolean;
  close(): void;
  setEscape(m: 'none' | 'v11' | 'v12'): void;
}

function collector() {
  const frames: Frame[] = [];
  const chunks: Buffer[] = [];
  let beats = 0;
  let cursor = 0;
  let closed = false;
  let onClosed!: () => void;
  const closedP = new Promise<void>((res) => (onClosed = res));
  const parser = new FrameParser({ maxFrameBytes: 1 << 24, maxHeaders: 10000, maxHeaderLineBytes: 1 << 20 }, (f) => frames.push(f), () => beats++);
  const peer = {
    frames,
    feed(b: Buffer) {
      chunks.push(b);
      parser.push(b);
    },
    end() {
      closed = true;
      onClosed();
    },
    next(command?: string, timeoutMs = 5000): Promise<Frame> {
      return waitFor(() => {
        while (cursor < frames.length) {
          const f = frames[cursor++];
          if (!command || f.command === command) return f;
        }
        return undefined;
      }, timeoutMs, `frame ${command ?? ''}`);
    },
    bytes: () => Buffer.concat(chunks).toString('utf8'),
    heartbeats: () => beats,
    closed: () => closedP,
    isClosed: () => closed,
    setEscape: (m: 'none' | 'v11' | 'v12') => (parser.escapeMode = m),
  };
  return peer;
}

function tcp(): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const c = collector();
    const sock = net.connect(r.tcpPort, '127.0.0.1');
    sock.on('data', (d) => c.feed(d));
    sock.on('close', () => c.end());
    sock.on('error', () => {});
    sock.once('error', reject);
    sock.once('connect', () => resolve({ ...c, send: (d) => sock.write(d), close: () => sock.destroy() }));
  });
}

function ws(protocols: string[] = ['v12.stomp', 'v11.stomp', 'v10.stomp']): Promise<Peer & { protocol: string }> {
  return new Promise((resolve, reject) => {
    const c = collector();
    const w = new WebSocket(r.wsUrl, protocols);
    w.on('message', (d: Buffer) => c.feed(Buffer.isBuffer(d) ? d : Buffer.from(d as ArrayBuffer)));
    w.on('close', () => c.end());
    w.on('error', () => {});
    w.once('error', reject);
    w.once('open', () => resolve({ ...c, protocol: w.protocol, send: (d) => w.send(d), close: () => w.terminate() }));
  });
}

/** A frame as a string; headers are written exactly as given (no escaping), NUL appended. */
function frame(command: string, headers: Record<string, string | number> | [string, string][] = {}, body = '', eol = '\n'): string {
  let s = command + eol;
  for (const [k, v] of Array.isArray(headers) ? headers : Object.entries(headers)) s += `${k}:${v}${eol}`;
  return s + eol + body + '\0';
}

async function connected(version = '1.2', extra: Record<string, string> = {}, peer?: Peer): Promise<Peer> {
  const p = peer ?? (await tcp());
  const h: Record<string, string> = { host: 'localhost', 'heart-beat': '0,0', ...extra };
  if (version !== '1.0') h['accept-version'] = version;
  p.send(frame('CONNECT', h));
  const f = await p.next();
  expect(f.command).toBe('CONNECTED');
  p.setEscape(version === '1.0' ? 'none' : version === '1.1' ? 'v11' : 'v12');
  return p;
}

/** SUBSCRIBE with a receipt, waited for: later SENDs are routed to it. */
async function subscribe(p: Peer, headers: Record<string, string>): Promise<void> {
  const receipt = `sub-${Math.random().toString(36).slice(2)}`;
  p.send(frame('SUBSCRIBE', { ...headers, receipt }));
  expect((await p.next('RECEIPT')).headers['receipt-id']).toBe(receipt);
}

async function expectError(p: Peer, message?: RegExp): Promise<Frame> {
  const e = await p.next('ERROR');
  expect(e.headers.message).toBeTruthy();
  if (message) expect(e.headers.message).toMatch(message);
  await p.closed();
  return e;
}

let seq = 0;
const uniq = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

// ---------------------------------------------------------------------------------------------

describe('STOMP Frames', () => {
  it('frame = command EOL *(header EOL) EOL *OCTET NULL *(EOL); EOL = [CR] LF', async () => {
    // "STOMP 1.2 ... frame lines [may end] with carriage return plus line feed instead of only line feed"
    const p = await tcp();
    p.send('CONNECT\r\naccept-version:1.2\r\nhost:x\r\n\r\n\0\r\n');
    const c = await p.next();
    expect(c.command).toBe('CONNECTED');
    expect(c.headers.version).toBe('1.2');
    const d = `/topic/${uniq('crlf')}`;
    p.send(frame('SUBSCRIBE', { id: 's', destination: d, receipt: 'r1' }, '', '\r\n') + '\r\n\r\n');
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('r1');
    p.send(frame('SEND', { destination: d, 'content-type': 'text/plain' }, 'crlf body', '\r\n'));
    const m = await p.next('MESSAGE');
    expect(m.headers.destination).toBe(d);
    expect(m.headers['content-type']).toBe('text/plain');
    expect(m.body.toString()).toBe('crlf body');
    p.close();
  });

  it('"The NULL octet can be optionally followed by multiple newlines" (and stray NULs before a command)', async () => {
    const p = await connected();
    const d = `/topic/${uniq('eol')}`;
    p.send('\n\n' + frame('SUBSCRIBE', { id: 's', destination: d }) + '\n\n\n\0\0' + frame('SEND', { destination: d }, 'hello\n') + '\n\r\n');
    const m = await p.next('MESSAGE');
    expect(m.body.toString()).toBe('hello\n');
    p.close();
  });

  it('"All commands and header names referenced in this document are case sensitive"', async () => {
    const p = await connected();
    p.send(frame('send', { destination: '/topic/x' }, 'x'));
    await expectError(p, /unknown command/);
    const q = await connected();
    const d = `/topic/${uniq('case')}`;
    await subscribe(q, { id: 's', destination: d });
    // "Destination" is not "destination": a SEND without the required header.
    q.send(frame('SEND', { Destination: d }, 'x'));
    await expectError(q, /missing header/);
  });

  it('"C style string literal escapes are used ... \\r \\n \\c \\\\" decode on SEND and re-encode on MESSAGE', async () => {
    const p = await connected();
    const d = `/topic/${uniq('esc')}`;
    await subscribe(p, { id: 'a\\cb', destination: d });
    p.send(frame('SEND', [['destination', d], ['k\\ce\\\\y', 'v\\na\\cl\\\\u\\re']], 'x'));
    const m = await p.next('MESSAGE');
    expect(m.headers['k:e\\y']).toBe('v\na:l\\u\re');
    expect(m.headers.subscription).toBe('a:b');
    // On the wire: escaped, never raw.
    expect(p.bytes()).toContain('k\\ce\\\\y:v\\na\\cl\\\\u\\re\n');
    expect(p.bytes()).toContain('subscription:a\\cb\n');
    p.close();
  });

  it('"Undefined escape sequences such as \\t (octet 92 and 116) MUST be treated as a fatal protocol error"', async () => {
    const p = await connected();
    p.send('SEND\ndestination:/topic/a\\tb\nreceipt:r-esc\n\nx\0');
    const e = await expectError(p, /escape/);
    expect(e.headers['content-type']).toBe('text/plain');
    // A dangling backslash at the end of a value is undefined too.
    const q = await connected();
    q.send('SEND\ndestination:/topic/a\\\n\nx\0');
    await expectError(q, /escape/);
  });

  it('"The CONNECT and CONNECTED frames do not escape the colon or newline octets"', async () => {
    const p = await tcp();
    p.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', login: 'u\\cser', passcode: 'pa:ss\\n' }));
    const c = await p.next('CONNECTED');
    // The authenticator saw the bytes as sent: no unescaping, and the value keeps its colon.
    expect(connectHeaders[connectHeaders.length - 1].login).toBe('u\\cser');
    expect(connectHeaders[connectHeaders.length - 1].passcode).toBe('pa:ss\\n');
    // CONNECTED is written raw too: the server header carries a colon unescaped.
    expect(p.bytes()).toContain('server:conformance/1.2 (a:b)\n');
    expect(c.headers.server).toBe('conformance/1.2 (a:b)');
    p.close();
  });

  it('"Only the SEND, MESSAGE, and ERROR frames MAY have a body. All other frames MUST NOT have a body"', async () => {
    const p = await connected();
    p.send(frame('SUBSCRIBE', { id: 's', destination: '/topic/b', receipt: 'rb' }, 'a body'));
    const e = await expectError(p, /body/);
    expect(e.headers['receipt-id']).toBe('rb');
  });

  it('"In STOMP 1.2, clients and servers MUST never trim or pad headers with spaces"', async () => {
    const p = await connected();
    const d = `/topic/${uniq('pad')}`;
    await subscribe(p, { id: ' s 1 ', destination: d });
    p.send(frame('SEND', [['destination', d], ['x-pad', '  two spaces  '], [' k ', 'v']], ''));
    const m = await p.next('MESSAGE');
    expect(m.headers.subscription).toBe(' s 1 ');
    expect(m.headers['x-pad']).toBe('  two spaces  ');
    expect(m.headers[' k ']).toBe('v');
    // A padded destination is a different (unknown) destination, not a trimmed one.
    p.send(frame('SEND', { destination: ` ${d}` }, 'x'));
    await expectError(p, /destination|forbidden/);
  });

  it('"only the first header entry SHOULD be used as the value of header entry"', async () => {
    const p = await connected();
    const d = `/topic/${uniq('rep')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('SEND', [['destination', d], ['destination', '/topic/elsewhere'], ['foo', 'World'], ['foo', 'Hello'], ['receipt', 'first'], ['receipt', 'second']], 'x'));
    const m = await p.next('MESSAGE');
    expect(m.headers.destination).toBe(d);
    expect(m.headers.foo).toBe('World');
    expect(p.bytes()).not.toContain('foo:Hello');
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('first');
    p.close();
  });

  it('"If a frame\'s body contains NULL octets, the frame MUST include a content-length header ... this number of octets MUST be read"', async () => {
    const p = await connected();
    const d = `/queue/${uniq('nul')}`;
    await subscribe(p, { id: 's', destination: d });
    const body = Buffer.from([0x61, 0, 0x62, 0, 0, 0xff, 0x0a]);
    p.send(Buffer.concat([Buffer.from(`SEND\ndestination:${d}\ncontent-type:application/octet-stream\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]));
    const m = await p.next('MESSAGE');
    expect(m.body.equals(body)).toBe(true);
    expect(m.headers['content-length']).toBe(String(body.length));
    expect(m.headers['content-type']).toBe('application/octet-stream');
    p.close();
  });

  it('"content-length:0" and a frame without content-length (body ends at the first NULL)', async () => {
    const p = await connected();
    const d = `/queue/${uniq('cl0')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('SEND', { destination: d, 'content-length': 0 }, ''));
    p.send(frame('SEND', { destination: d }, 'no length, ünïcödé'));
    const a = await p.next('MESSAGE');
    expect(a.body.length).toBe(0);
    expect(a.headers['content-length']).toBe('0');
    const b = await p.next('MESSAGE');
    expect(b.body.toString()).toBe('no length, ünïcödé');
    // "The SEND, MESSAGE and ERROR frames SHOULD include a content-length header": the broker always does.
    expect(b.headers['content-length']).toBe(String(Buffer.byteLength('no length, ünïcödé')));
    p.close();
  });

  it('"The frame still needs to be terminated with a NULL octet" (content-length shorter than the body → ERROR)', async () => {
    const p = await connected();
    p.send('SEND\ndestination:/queue/short\ncontent-length:2\nreceipt:r-cl\n\nabc\0');
    const e = await expectError(p, /NUL/);
    expect(e.headers['receipt-id']).toBe('r-cl');
  });

  it('a frame split across many TCP segments, and many frames in one segment', async () => {
    const p = await connected();
    const d = `/topic/${uniq('split')}`;
    await subscribe(p, { id: 's', destination: d });
    const bytes = Buffer.from(frame('SEND', { destination: d, 'content-length': 5 }, 'a\0b\0c') + frame('SEND', { destination: d }, 'two'));
    for (let i = 0; i < bytes.length; i += 3) {
      p.send(bytes.subarray(i, i + 3));
      await sleep(1);
    }
    expect((await p.next('MESSAGE')).body.toString()).toBe('a\0b\0c');
    expect((await p.next('MESSAGE')).body.toString()).toBe('two');
    p.close();
  });

  it('"The commands and headers are encoded in UTF-8": non-ASCII header names and values pass through', async () => {
    const p = await connected();
    const d = `/topic/${uniq('utf8')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('SEND', [['destination', d], ['headꙕr1', 'valꙕe1'], ['x-emoji', '🎸 ñ 日本']], 'x'));
    const m = await p.next('MESSAGE');
    expect(m.headers['headꙕr1']).toBe('valꙕe1');
    expect(m.headers['x-emoji']).toBe('🎸 ñ 日本');
    p.close();
  });

  it('long header values within the limits are accepted; over the limits: "the server SHOULD send the client an ERROR frame and then close"', async () => {
    const p = await connected();
    const d = `/topic/${uniq('long')}`;
    await subscribe(p, { id: 's', destination: d });
    const long = 'x'.repeat(8000);
    p.send(frame('SEND', { destination: d, 'x-long': long }, 'y'));
    expect((await p.next('MESSAGE')).headers['x-long']).toBe(long);
    p.send(frame('SEND', { destination: d, 'x-long': long + long }, 'y'));
    await expectError(p, /too long/);
    const q = await connected();
    q.send(`SEND\ndestination:${d}\ncontent-length:${128 * 1024}\n\n`);
    await expectError(q, /too large/);
  });

  it('the spec\'s own DISCONNECT example (no blank line before ^@) is read as a frame', async () => {
    // "DISCONNECT\nreceipt:77\n^@" and "RECEIPT\nreceipt-id:77\n^@" are written that way in the spec.
    const p = await connected();
    p.send('DISCONNECT\nreceipt:77\n\0');
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('77');
    await p.closed();
  });
});

describe('Connecting', () => {
  it('"If the server accepts the connection attempt it will respond with a CONNECTED frame" with version, session, server', async () => {
    const p = await tcp();
    p.send(frame('CONNECT', { 'accept-version': '1.2', host: 'stomp.github.org' }));
    const c = await p.next();
    expect(c.command).toBe('CONNECTED');
    expect(c.headers.version).toBe('1.2');
    expect(c.headers.session).toBeTruthy();
    // "server = name ["/" version] *(comment)"
    expect(c.headers.server).toMatch(/^[^\s/]+(\/[^\s]+)?( .*)?$/);
    expect(c.headers['heart-beat']).toMatch(/^\d+,\d+$/);
    p.close();
  });

  it('"STOMP servers MUST handle a STOMP frame in the same manner as a CONNECT frame"', async () => {
    const p = await tcp();
    p.send(frame('STOMP', { 'accept-version': '1.2', host: 'x' }));
    expect((await p.next()).command).toBe('CONNECTED');
    p.setEscape('v12');
    const d = `/topic/${uniq('stomp')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('SEND', { destination: d }, 'ok'));
    expect((await p.next('MESSAGE')).body.toString()).toBe('ok');
    p.close();
  });

  it('"The protocol that will be used ... will be the highest protocol version that both the client and server have in common"', async () => {
    const a = await tcp();
    a.send(frame('CONNECT', { 'accept-version': '1.0,1.1,2.0', host: 'x' }));
    expect((await a.next('CONNECTED')).headers.version).toBe('1.1');
    const b = await tcp();
    b.send(frame('CONNECT', { 'accept-version': '1.1,1.2', host: 'x' }));
    expect((await b.next('CONNECTED')).headers.version).toBe('1.2');
    a.close();
    b.close();
  });

  it('"If the accept-version header is missing, it means that the client only supports version 1.0"', async () => {
    const p = await tcp();
    p.send(frame('CONNECT', { login: '', passcode: '' }));
    const c = await p.next('CONNECTED');
    expect(c.headers.version).toBe('1.0');
    expect(c.headers.session).toBeTruthy();
    p.close();
  });

  it('"If the client and server do not share any common protocol versions, then the server SHOULD respond with an ERROR frame" listing them in `version`', async () => {
    const p = await tcp();
    p.send(frame('CONNECT', { 'accept-version': '2.0,2.1', host: 'x' }));
    const e = await expectError(p, /version/);
    expect(e.headers.version.split(',').sort()).toEqual(['1.0', '1.1', '1.2']);
    expect(e.headers['content-type']).toBe('text/plain');
    expect(e.body.toString()).toMatch(/1\.2/);
  });

  it('"host ... If this header does not match a known virtual host, servers ... MAY select a default virtual host": any or no host connects', async () => {
    const a = await tcp();
    a.send(frame('CONNECT', { 'accept-version': '1.2', host: 'no-such-vhost' }));
    expect((await a.next()).command).toBe('CONNECTED');
    const b = await tcp();
    b.send(frame('CONNECT', { 'accept-version': '1.2' }));
    expect((await b.next()).command).toBe('CONNECTED');
    a.close();
    b.close();
  });

  it('"login / passcode: The user id ... used to authenticate"; rejected: "ERROR frame explaining why ... and then close the connection"', async () => {
    const p = await tcp();
    p.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', login: 'alice', passcode: 'secret' }));
    const c = await p.next('CONNECTED');
    expect(r.broker.session(c.headers.session)?.principal?.id).toBe('alice');
    const q = await tcp();
    q.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', login: 'alice', passcode: 'wrong' }));
    const e = await expectError(q, /unauthorized/);
    expect(e.body.toString()).toMatch(/bad credentials/);
    p.close();
  });

  it('a frame other than CONNECT/STOMP first → ERROR; a second CONNECT → ERROR', async () => {
    const p = await tcp();
    p.send(frame('SUBSCRIBE', { id: '1', destination: '/topic/a' }));
    await expectError(p, /not connected/);
    const q = await connected();
    q.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x' }));
    await expectError(q, /already connected/);
  });

  it('frames pipelined behind CONNECT are processed after CONNECTED, with the negotiated version\'s header rules', async () => {
    const p = await tcp();
    p.setEscape('none'); // CONNECTED and the MESSAGE may arrive in one read
    const d = `/topic/${uniq('pipe')}`;
    // 1.0 has no escaping: a backslash in a 1.0 header is a backslash.
    p.send(
      frame('CONNECT', { login: 'slow', passcode: 'x' }) +
        frame('SUBSCRIBE', { id: 'a\\b', destination: d }) +
        frame('SEND', { destination: d, 'x-path': 'C:\\dir\\t' }, 'piped'),
    );
    expect((await p.next()).command).toBe('CONNECTED');
    const m = await p.next('MESSAGE');
    expect(m.headers.subscription).toBe('a\\b');
    expect(m.headers['x-path']).toBe('C:\\dir\\t');
    p.close();
  });
});

// Heart-beating: heartbeat.test.ts, on a fake broker clock (the same clauses, without sleeps).

describe('SEND', () => {
  it('"It has one REQUIRED header, destination" → ERROR, with receipt-id of the frame', async () => {
    const p = await connected();
    p.send(frame('SEND', { receipt: 'no-dest' }, 'x'));
    const e = await expectError(p, /missing header/);
    expect(e.headers['receipt-id']).toBe('no-dest');
    expect(e.body.toString()).toMatch(/destination/);
  });

  it('"The user defined headers MUST be passed through in the MESSAGE frame"; destination identical to SEND\'s', async () => {
    const p = await connected();
    const d = `/queue/${uniq('user-headers')}`;
    await subscribe(p, { id: 'sub-9', destination: d });
    p.send(frame('SEND', { destination: d, 'content-type': 'application/json;charset=utf-8', 'x-custom-header-1': 'value1', 'custom-header-3': 'value3', persistent: 'true', 'reply-to': '/queue/back', priority: '4' }, '{"a":1}'));
    const m = await p.next('MESSAGE');
    expect(m.headers.destination).toBe(d);
    expect(m.headers.subscription).toBe('sub-9');
    expect(m.headers['message-id']).toBeTruthy();
    expect(m.headers['content-type']).toBe('application/json;charset=utf-8');
    expect(m.headers['x-custom-header-1']).toBe('value1');
    expect(m.headers['custom-header-3']).toBe('value3');
    expect(m.headers.persistent).toBe('true');
    expect(m.headers['reply-to']).toBe('/queue/back');
    expect(m.headers.priority).toBe('4');
    // SEND-only headers are not echoed.
    expect(m.headers.receipt).toBeUndefined();
    expect(m.headers.transaction).toBeUndefined();
    p.close();
  });

  it('"The MESSAGE frame MUST also contain a message-id header with a unique identifier"', async () => {
    const p = await connected();
    const d = `/topic/${uniq('ids')}`;
    await subscribe(p, { id: 'a', destination: d });
    await subscribe(p, { id: 'b', destination: d });
    for (let i = 0; i < 5; i++) p.send(frame('SEND', { destination: d }, String(i)));
    const got: Frame[] = [];
    for (let i = 0; i < 10; i++) got.push(await p.next('MESSAGE'));
    const ids = (sub: string) => got.filter((f) => f.headers.subscription === sub).map((f) => f.headers['message-id']);
    expect(new Set(ids('a')).size).toBe(5);
    // Both subscriptions see the same message under the same id.
    expect(ids('a')).toEqual(ids('b'));
    p.close();
  });

  it('"Any client frame other than CONNECT MAY specify a receipt header" → RECEIPT with receipt-id, empty body', async () => {
    const p = await connected();
    const d = `/topic/${uniq('rc')}`;
    p.send(frame('SUBSCRIBE', { id: 's', destination: d, receipt: 'r:1' }));
    p.send(frame('SEND', { destination: d, receipt: 'r:2' }, 'x'));
    p.send(frame('UNSUBSCRIBE', { id: 's', receipt: 'r:3' }));
    p.send(frame('BEGIN', { transaction: 't', receipt: 'r:4' }));
    p.send(frame('ABORT', { transaction: 't', receipt: 'r:5' }));
    for (const id of ['r:1', 'r:2', 'r:3', 'r:4', 'r:5']) {
      const rc = await p.next('RECEIPT');
      expect(rc.headers['receipt-id']).toBe(id);
      expect(rc.body.length).toBe(0);
    }
    // Escaped on the wire (1.2): the colon travels as \c.
    expect(p.bytes()).toContain('receipt-id:r\\c1\n');
    p.close();
  });
});

describe('SUBSCRIBE / UNSUBSCRIBE', () => {
  it('"an id header MUST be included in the frame" (1.1, 1.2) — 1.0 allows it missing', async () => {
    const p = await connected('1.2');
    p.send(frame('SUBSCRIBE', { destination: '/topic/a' }));
    await expectError(p, /missing header/);
    const q = await connected('1.1');
    q.send(frame('SUBSCRIBE', { destination: '/topic/a' }));
    await expectError(q, /missing header/);
    const o = await connected('1.0');
    const d = `/queue/${uniq('v10')}`;
    await subscribe(o, { destination: d });
    o.send(frame('SEND', { destination: d }, 'one-oh'));
    const m = await o.next('MESSAGE');
    expect(m.body.toString()).toBe('one-oh');
    expect(m.headers.destination).toBe(d);
    // 1.0: UNSUBSCRIBE by destination.
    o.send(frame('UNSUBSCRIBE', { destination: d, receipt: 'u' }));
    await o.next('RECEIPT');
    o.send(frame('SEND', { destination: d, receipt: 'after' }, 'queued'));
    await o.next('RECEIPT');
    expect(r.broker.queueDepth(d)).toBe(1);
    o.close();
  });

  it('"Within the same connection, different subscriptions MUST use different subscription identifiers"', async () => {
    const p = await connected();
    await subscribe(p, { id: 'dup', destination: '/topic/a' });
    p.send(frame('SUBSCRIBE', { id: 'dup', destination: '/topic/b', receipt: 'r-dup' }));
    const e = await expectError(p, /duplicate subscription/);
    expect(e.headers['receipt-id']).toBe('r-dup');
  });

  it('"The valid values for the ack header are auto, client, or client-individual. If the header is not set, it defaults to auto"', async () => {
    const p = await connected();
    const d = `/queue/${uniq('auto')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('SEND', { destination: d }, 'a'));
    const m = await p.next('MESSAGE');
    expect(m.headers.ack).toBeUndefined();
    p.send(frame('SUBSCRIBE', { id: 't', destination: '/topic/x', ack: 'CLIENT' }));
    await expectError(p, /ack mode/);
  });

  it('"If the server cannot successfully create the subscription, the server MUST send the client an ERROR frame and then close"', async () => {
    const p = await connected();
    p.send(frame('SUBSCRIBE', { id: 's', destination: '/nowhere/at/all' }));
    await expectError(p, /destination/);
  });

  it('UNSUBSCRIBE: "an id header MUST be included"; once removed "no longer receive messages"', async () => {
    const p = await connected();
    const d = `/topic/${uniq('unsub')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('UNSUBSCRIBE', { id: 's', receipt: 'u' }));
    await p.next('RECEIPT');
    p.send(frame('SEND', { destination: d, receipt: 'sent' }, 'x'));
    // The RECEIPT is the barrier: a MESSAGE for that SEND would have been written before it.
    await p.next('RECEIPT');
    expect(p.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(0);
    // Unknown ids are accepted (the subscription is gone either way) — see README.
    p.send(frame('UNSUBSCRIBE', { id: 'never-was', receipt: 'u2' }));
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('u2');
    p.send(frame('UNSUBSCRIBE', { destination: d }));
    await expectError(p, /missing header/);
  });
});

describe('ACK / NACK', () => {
  it('"If the message is received from a subscription that requires explicit acknowledgment ... the MESSAGE frame MUST also contain an ack header"', async () => {
    const p = await connected();
    const d = `/topic/${uniq('ackhdr')}`;
    await subscribe(p, { id: 'c', destination: d, ack: 'client' });
    await subscribe(p, { id: 'ci', destination: d, ack: 'client-individual' });
    p.send(frame('SEND', { destination: d }, 'x'));
    const a = await p.next('MESSAGE');
    const b = await p.next('MESSAGE');
    expect(a.headers.ack).toBeTruthy();
    expect(b.headers.ack).toBeTruthy();
    expect(a.headers.ack).not.toBe(b.headers.ack);
    p.send(frame('ACK', { id: a.headers.ack, receipt: 'a1' }));
    p.send(frame('NACK', { id: b.headers.ack, receipt: 'n1' }));
    await p.next('RECEIPT');
    await p.next('RECEIPT');
    expect(r.broker.session(await sessionIdOf(p))?.version).toBe('1.2');
    p.close();
  });

  it('1.2 "ACK has one REQUIRED header, id" — message-id alone is an ERROR', async () => {
    const p = await connected();
    const d = `/queue/${uniq('ackid')}`;
    await subscribe(p, { id: 's', destination: d, ack: 'client' });
    p.send(frame('SEND', { destination: d }, 'x'));
    const m = await p.next('MESSAGE');
    p.send(frame('ACK', { 'message-id': m.headers['message-id'], subscription: 's', receipt: 'r-ack' }));
    const e = await expectError(p, /missing header/);
    expect(e.headers['receipt-id']).toBe('r-ack');
  });

  it('1.1 ACK: "message-id ... and subscription, which MUST be set to match the value of the subscription\'s id header"', async () => {
    const p = await connected('1.1');
    const d = `/queue/${uniq('ack11')}`;
    await subscribe(p, { id: 's', destination: d, ack: 'client-individual' });
    p.send(frame('SEND', { destination: d }, 'x'));
    const m = await p.next('MESSAGE');
    expect(m.headers.ack).toBeUndefined();
    p.send(frame('ACK', { 'message-id': m.headers['message-id'], subscription: 's', receipt: 'r' }));
    await p.next('RECEIPT');
    expect(r.broker.stats().unacked).toBe(0);
    p.close();
  });

  it('"The ACK frames sent by the client will be treated as a cumulative ACK" (client) vs "MUST NOT cause a previous message to get acknowledged" (client-individual)', async () => {
    for (const mode of ['client', 'client-individual']) {
      const d = `/queue/${uniq(mode)}`;
      const p = await connected();
      await subscribe(p, { id: 's', destination: d, ack: mode });
      p.send(frame('SEND', { destination: d }, 'm1') + frame('SEND', { destination: d }, 'm2'));
      await p.next('MESSAGE');
      const second = await p.next('MESSAGE');
      p.send(frame('ACK', { id: second.headers.ack, receipt: 'r' }));
      await p.next('RECEIPT');
      p.send(frame('DISCONNECT', { receipt: 'bye' }));
      await p.next('RECEIPT');
      await p.closed();
      // What was not acknowledged goes back to the queue.
      await waitFor(() => r.broker.queueDepth(d) === (mode === 'client' ? 0 : 1) || undefined, 2000, 'requeue');
      const q = await connected();
      await subscribe(q, { id: 's', destination: d });
      q.send(frame('SEND', { destination: d }, 'marker'));
      const first = await q.next('MESSAGE');
      if (mode === 'client') expect(first.body.toString()).toBe('marker');
      else {
        expect(first.body.toString()).toBe('m1');
        expect(first.headers.redelivered).toBe('true');
      }
      q.close();
    }
  });

  it('NACK: "the server can then either send the message to a different client, discard it" — a queue redelivers it', async () => {
    const p = await connected();
    const d = `/queue/${uniq('nack')}`;
    await subscribe(p, { id: 's', destination: d, ack: 'client-individual' });
    p.send(frame('SEND', { destination: d }, 'again'));
    const m = await p.next('MESSAGE');
    p.send(frame('NACK', { id: m.headers.ack }));
    const again = await p.next('MESSAGE');
    expect(again.body.toString()).toBe('again');
    expect(again.headers.redelivered).toBe('true');
    expect(again.headers['message-id']).toBe(m.headers['message-id']);
    p.send(frame('ACK', { id: again.headers.ack, receipt: 'done' }));
    await p.next('RECEIPT');
    p.close();
  });

  it('an ACK for an unknown or already settled id is ignored (idempotent; client mode acks cumulatively)', async () => {
    const p = await connected();
    p.send(frame('ACK', { id: 'no-such-ack', receipt: 'x' }));
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('x');
    p.close();
  });
});

describe('Transactions', () => {
  it('"any messages sent or acknowledged during a transaction will be handled atomically": delivered at COMMIT, dropped at ABORT', async () => {
    const p = await connected();
    const d = `/topic/${uniq('tx')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('BEGIN', { transaction: 't1' }));
    p.send(frame('SEND', { destination: d, transaction: 't1' }, 'one'));
    p.send(frame('SEND', { destination: d, transaction: 't1', receipt: 'in-tx' }, 'two'));
    await p.next('RECEIPT');
    expect(p.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(0);
    p.send(frame('COMMIT', { transaction: 't1' }));
    expect((await p.next('MESSAGE')).body.toString()).toBe('one');
    expect((await p.next('MESSAGE')).body.toString()).toBe('two');
    p.send(frame('BEGIN', { transaction: 't2' }) + frame('SEND', { destination: d, transaction: 't2' }, 'never') + frame('ABORT', { transaction: 't2', receipt: 'ab' }));
    await p.next('RECEIPT');
    p.send(frame('SEND', { destination: d }, 'after'));
    expect((await p.next('MESSAGE')).body.toString()).toBe('after');
    p.close();
  });

  it('"the message acknowledgment SHOULD be part of the named transaction"', async () => {
    const p = await connected();
    const d = `/queue/${uniq('txack')}`;
    await subscribe(p, { id: 's', destination: d, ack: 'client-individual' });
    p.send(frame('SEND', { destination: d }, 'x'));
    const m = await p.next('MESSAGE');
    const before = r.broker.stats().unacked;
    p.send(frame('BEGIN', { transaction: 't' }) + frame('ACK', { id: m.headers.ack, transaction: 't', receipt: 'a' }));
    await p.next('RECEIPT');
    expect(r.broker.stats().unacked).toBe(before);
    p.send(frame('COMMIT', { transaction: 't', receipt: 'c' }));
    await p.next('RECEIPT');
    expect(r.broker.stats().unacked).toBe(before - 1);
    p.close();
  });

  it('"The transaction header is REQUIRED"; COMMIT/ABORT/SEND of an unknown transaction → ERROR; "Transaction identifiers MUST be unique"', async () => {
    const cases: [string, RegExp][] = [
      [frame('BEGIN', {}), /missing header/],
      [frame('COMMIT', { transaction: 'nope' }), /unknown transaction/],
      [frame('ABORT', { transaction: 'nope' }), /unknown transaction/],
      [frame('SEND', { destination: '/topic/a', transaction: 'nope' }, 'x'), /unknown transaction/],
      [frame('ACK', { id: '1', transaction: 'nope' }), /unknown transaction/],
      [frame('BEGIN', { transaction: 't' }) + frame('BEGIN', { transaction: 't' }), /duplicate transaction/],
    ];
    for (const [bytes, message] of cases) {
      const p = await connected();
      p.send(bytes);
      await expectError(p, message);
    }
  });

  it('"started transactions which have not been committed will be implicitly aborted if the client sends a DISCONNECT"', async () => {
    const sub = await connected();
    const d = `/topic/${uniq('txdisc')}`;
    await subscribe(sub, { id: 's', destination: d });
    const p = await connected();
    p.send(frame('BEGIN', { transaction: 't' }) + frame('SEND', { destination: d, transaction: 't' }, 'lost') + frame('DISCONNECT', { receipt: 'd' }));
    await p.next('RECEIPT');
    await p.closed();
    sub.send(frame('SEND', { destination: d }, 'marker'));
    expect((await sub.next('MESSAGE')).body.toString()).toBe('marker');
    sub.close();
  });
});

describe('DISCONNECT', () => {
  it('"send a DISCONNECT frame with a receipt header ... wait for the RECEIPT ... close"; later frames are ignored', async () => {
    const sub = await connected();
    const d = `/topic/${uniq('disc')}`;
    await subscribe(sub, { id: 's', destination: d });
    const p = await connected();
    // "Clients MUST NOT send any more frames after the DISCONNECT frame": what follows is ignored.
    p.send(frame('DISCONNECT', { receipt: '77' }) + frame('SEND', { destination: d }, 'too late'));
    const rc = await p.next('RECEIPT');
    expect(rc.headers['receipt-id']).toBe('77');
    await p.closed();
    expect(p.frames.map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT']);
    sub.send(frame('SEND', { destination: d }, 'marker'));
    expect((await sub.next('MESSAGE')).body.toString()).toBe('marker');
    sub.close();
  });
});

describe('ERROR', () => {
  it('"The ERROR frame SHOULD contain a message header"; content-type and content-length for the body; receipt-id; "MUST then close"', async () => {
    const p = await connected();
    p.send(frame('SEND', { receipt: 'message-12345' }, 'no destination'));
    const e = await p.next('ERROR');
    expect(e.headers.message).toBeTruthy();
    expect(e.headers.message).not.toMatch(/[\r\n]/);
    expect(e.headers['receipt-id']).toBe('message-12345');
    expect(e.headers['content-type']).toMatch(/^text\/plain/);
    expect(Number(e.headers['content-length'])).toBe(e.body.length);
    await p.closed();
  });

  it('"A client MAY send a frame not in this list, but for such a frame a STOMP 1.2 server MAY respond with an ERROR frame and then close"', async () => {
    const p = await connected();
    p.send(frame('WRONGCOMMAND', { destination: 'a' }));
    await expectError(p, /unknown command/);
    // Server commands are not client commands.
    const q = await connected();
    q.send(frame('MESSAGE', { destination: '/topic/a' }, 'x'));
    await expectError(q, /unknown command/);
  });

  it('a frame the parser rejects still gets receipt-id when its receipt header was read', async () => {
    const p = await connected();
    p.send('SEND\nreceipt:r-big\ndestination:/topic/a\ncontent-length:abc\n\nx\0');
    const e = await expectError(p, /content-length/);
    expect(e.headers['receipt-id']).toBe('r-big');
  });
});

describe('Versions 1.0 and 1.1', () => {
  it('1.1 escaping: "\\r" is undefined in 1.1 (fatal); \\n \\c \\\\ are decoded', async () => {
    const p = await connected('1.1');
    const d = `/topic/${uniq('v11')}`;
    await subscribe(p, { id: 's', destination: d });
    p.send(frame('SEND', [['destination', d], ['x-v', 'a\\cb\\nc\\\\']], 'x'));
    expect((await p.next('MESSAGE')).headers['x-v']).toBe('a:b\nc\\');
    p.send(frame('SEND', [['destination', d], ['x-v', 'a\\rb']], 'x'));
    await expectError(p, /escape/);
  });

  it('1.0 has no escaping: a 1.0 subscriber gets colons raw, and no header a raw frame cannot carry', async () => {
    const old = await connected('1.0');
    const d = `/topic/${uniq('v10')}`;
    await subscribe(old, { id: 'old', destination: d });
    const p = await connected('1.2');
    p.send(frame('SEND', [['destination', d], ['x-colon', 'a\\cb'], ['x-inject', 'x\\ncontent-length:0'], ['x\\cname', 'v'], ['x-ok', 'fine']], 'payload'));
    const m = await old.next('MESSAGE');
    expect(m.body.toString()).toBe('payload');
    expect(m.headers['x-colon']).toBe('a:b');
    expect(m.headers['x-ok']).toBe('fine');
    expect(m.headers['x-inject']).toBeUndefined();
    expect(m.headers['content-length']).toBe('7');
    expect(old.bytes()).toContain('x-colon:a:b\n');
    old.close();
    p.close();
  });

  it('1.0 clients padded headers ("destination: /queue/a"): tolerated on a 1.0 session only', async () => {
    const p = await connected('1.0');
    const d = `/queue/${uniq('pad10')}`;
    p.send(`SUBSCRIBE\ndestination: ${d}\nack: client\nreceipt: r\n\n\0`);
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('r');
    p.send(`SEND\ndestination: ${d}\n\nhello\0`);
    const m = await p.next('MESSAGE');
    expect(m.headers.destination).toBe(d);
    p.send(`ACK\nmessage-id: ${m.headers['message-id']}\nreceipt: a\n\n\0`);
    await p.next('RECEIPT');
    expect(r.broker.queueDepth(d)).toBe(0);
    p.close();
  });
});

describe('STOMP over WebSocket', () => {
  it('subprotocols v12.stomp / v11.stomp / v10.stomp / stomp are accepted; none offered is fine too', async () => {
    for (const [offer, expected] of [[['v10.stomp', 'v12.stomp'], 'v12.stomp'], [['v11.stomp'], 'v11.stomp'], [['stomp'], 'stomp'], [[], '']] as [string[], string][]) {
      const p = await ws(offer);
      expect(p.protocol).toBe(expected);
      await connected('1.2', {}, p);
      p.close();
    }
  });

  it('frames split across WebSocket messages, several frames per message, heart-beat EOL messages', async () => {
    const p = await connected('1.2', {}, await ws());
    const d = `/topic/${uniq('ws')}`;
    const bytes = frame('SUBSCRIBE', { id: 's', destination: d }) + '\n' + frame('SEND', { destination: d, 'x-h': 'v' }, 'over ws');
    p.send('\n');
    p.send(bytes.slice(0, 7));
    p.send(bytes.slice(7, 40));
    p.send(bytes.slice(40) + '\r\n');
    const m = await p.next('MESSAGE');
    expect(m.body.toString()).toBe('over ws');
    expect(m.headers['x-h']).toBe('v');
    // Binary frames with a content-length body holding NULs.
    const body = Buffer.from([1, 0, 2, 0, 3]);
    p.send(Buffer.concat([Buffer.from(`SEND\ndestination:${d}\ncontent-length:5\n\n`), body, Buffer.from([0])]));
    expect((await p.next('MESSAGE')).body.equals(body)).toBe(true);
    p.send(frame('DISCONNECT', { receipt: 'ws-bye' }));
    expect((await p.next('RECEIPT')).headers['receipt-id']).toBe('ws-bye');
    await p.closed();
  });

  it('an ERROR over WebSocket is followed by the close', async () => {
    const p = await connected('1.2', {}, await ws());
    p.send('SEND\ndestination:/topic/a\\q\n\n\0');
    await expectError(p, /escape/);
  });
});

/** The session id a raw peer got in CONNECTED. */
async function sessionIdOf(p: Peer): Promise<string> {
  return p.frames.find((f) => f.command === 'CONNECTED')!.headers.session;
}
