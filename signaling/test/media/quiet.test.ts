// kurento-client checks the server's modules at connect with a call that has no callback; when that
// request times out (a server that accepts the socket and never answers), kurento-client ends it in
// `console.trace(error)`, possibly after the client was closed. Under jest such a late line sets the
// run's exit code to 1 (CI failed so with every test green). The client's own errors go to our logger.
import { WebSocketServer } from 'ws';
import { MediaServerClient } from '../../src/media/server-client';
import { waitFor } from '../../../test-support/ports';

test('a kurento-client request timing out after close reaches our logger, not the console', async () => {
  const printed: string[] = [];
  const saved = { trace: console.trace, error: console.error, warn: console.warn };
  // Installed before the client so that quietKurentoClient() wraps these (it wraps once per process).
  console.trace = (...a: unknown[]) => { printed.push(`trace ${String(a[0])}`); };
  console.error = (...a: unknown[]) => { printed.push(`error ${String(a[0])}`); };
  console.warn = (...a: unknown[]) => { printed.push(`warn ${String(a[0])}`); };
  // Answers nothing: the module check's `describe` can only time out.
  const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => silent.once('listening', r));
  const requests: string[] = [];
  silent.on('connection', (ws) => ws.on('message', (m) => requests.push(String(m))));
  try {
    const client = new MediaServerClient(`ws://127.0.0.1:${(silent.address() as { port: number }).port}/kurento`, 300);
    client.start();
    await waitFor(() => requests.some((r) => r.includes('manager_ServerManager')), 10000, 'the module check was sent');
    await client.close();
    // kurento-jsonrpc times the request out request_timeout after it was sent, even after close.
    await new Promise((r) => setTimeout(r, 1000));
    console.trace('ours'); // a trace that is not kurento-client's still prints
    expect(printed).toEqual(['trace ours']);
  } finally {
    Object.assign(console, saved);
    await new Promise((r) => silent.close(r));
  }
});
