// A TCP proxy on a free 127.0.0.1 port that a test (or `npm run chaos`) can cut: the partition
// between a node and Redis. `cut()` resets every connection through it and holds new ones open
// without forwarding a byte (as a network that dropped the route: the client's connect succeeds
// locally and then times out); `heal()` forwards again from the next connection.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections forwarded since the start. */
  readonly connections: number;
  readonly isCut: boolean;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let cut = false;
  let connections = 0;
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    if (cut) return; // held: nothing forwarded, nothing answered
    connections++;
    const upstream = net.connect(targetPort, targetHost);
    open.add(upstream);
    upstream.on('close', () => { open.delete(upstream); client.destroy(); });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() { return connections; },
    get isCut() { return cut; },
    cut() {
      cut = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    heal() {
      cut = false;
      // Connections held during the cut never reach the target: close them so clients reconnect.
      for (const s of open) s.destroy();
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
