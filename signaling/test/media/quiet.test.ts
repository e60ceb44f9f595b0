// kurento-client and kurento-jsonrpc print to the console from inside (reconnects, pings, their own
// callback-less calls, late answers). Under jest a console line after its test file ended sets the
// run's exit code to 1 (CI failed so with every test green), and in production they are noise
// without context. They go to our logger at debug level; other console output is untouched.
import { WebSocketServer } from 'ws';
import { MediaServerClient } from '../../src/media/server-client';
import { waitFor } from '../../../test-support/ports';

const printed: string[] = [];
const saved = { trace: console.trace, error: console.error, warn: console.warn, log: console.log };
// Installed before any client exists, so that quietKurentoClient() (once per process) wraps these.
beforeAll(() => {
  for (const m of ['trace', 'error', 'warn', 'log'] as const) console[m] = (...a: unknown[]) => { printed.push(`${m} ${String(a[0])}`); };
});
afterAll(() => { Object.assign(console, saved); });
beforeEach(() => { printed.length = 0; });

/** A WebSocket "media server" on a free port whose answers `answer` decides (undefined: none). */
async function fakeServer(answer: (id: number, reply: (m: unknown) => void) => void): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const requests: string[] = [];
  wss.on('connection', (ws) => ws.on('message', (m) => {
    requests.push(String(m));
    const req = JSON.parse(String(m)) as { id?: number };
    if (req.id !== undefined) answer(req.id, (msg) => ws.send(JSON.stringify(msg)));
  }));
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/kurento`, requests,
    close: () => new Promise((r) => wss.close(() => r())),
  };
}

test('a kurento-client request timing out after close reaches our logger, not the console', async () => {
  const silent = await fakeServer(() => undefined); // the module check's `describe` can only time out
  try {
    const client = new MediaServerClient(silent.url, 300);
    client.start();
    await waitFor(() => silent.requests.some((r) => r.includes('manager_ServerManager')), 10000, 'the module check was sent');
    await client.close();
    // kurento-jsonrpc times the request out request_timeout after it was sent, even after close.
    await new Promise((r) => setTimeout(r, 1000));
    console.trace('ours'); // a trace that is not kurento-client's still prints
    expect(printed).toEqual(['trace ours']);
  } finally {
    await silent.close();
  }
});

test('an answer that comes after its request timed out reaches our logger, not the console', async () => {
  let answered = 0;
  // Every answer 400 ms late: after the client's 300 ms timeout.
  const late = await fakeServer((id, reply) => setTimeout(() => { reply({ jsonrpc: '2.0', id, result: { value: 'late' } }); answered++; }, 400));
  try {
    const client = new MediaServerClient(late.url, 300);
    client.start();
    await waitFor(() => answered >= 2, 10000, 'late answers');
    await new Promise((r) => setTimeout(r, 100)); // the client reads them
    await client.close();
    expect(printed.filter((p) => !p.startsWith('log {'))).toEqual([]); // our own JSON log lines aside
  } finally {
    await late.close();
  }
});
