// 1,000 create / negotiate / gather / close cycles of the server peer must leave no UDP sockets,
// no file descriptors and no shared timers behind (werift has leaked sockets before: we count).
import fs from 'node:fs';
import { RTCPeerConnection } from 'werift';
import { createMediaPeer } from '../src/media';
import { tickingCount } from '../src/media/ticker';

jest.setTimeout(240000);

/** UDP sockets of this process: our socket fds whose inode is in /proc/self/net/udp{,6}. */
function udpSockets(): number {
  const inodes = new Set<string>();
  for (const f of ['/proc/self/net/udp', '/proc/self/net/udp6']) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[9]) inodes.add(cols[9]);
    }
  }
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1]!)) n++;
    } catch { /* fd closed meanwhile */ }
  }
  return n;
}

const fdCount = () => fs.readdirSync('/proc/self/fd').length;

test('1,000 create/close cycles leave no UDP sockets, fds or timers', async () => {
  // A real offer (werift as the browser), reused for every cycle.
  const client = new RTCPeerConnection({});
  client.addTransceiver('audio', { direction: 'recvonly' });
  client.addTransceiver('video', { direction: 'recvonly' });
  const offer = (await client.createOffer()).sdp;
  await client.close();

  const udpBefore = udpSockets();
  const fdBefore = fdCount();
  let peak = 0;
  const cycle = async () => {
    const peer = createMediaPeer({ bindAddress: '127.0.0.1' });
    const done = new Promise<void>((resolve) => peer.on('gathering-done', () => resolve()));
    await peer.processOffer(offer);
    await peer.gatherCandidates();
    await done;
    peak = Math.max(peak, udpSockets());
    await peer.close();
  };
  const t0 = Date.now();
  for (let i = 0; i < 1000; i += 10) await Promise.all(Array.from({ length: 10 }, cycle));
  const ms = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 200));
  const udpAfter = udpSockets();
  // eslint-disable-next-line no-console
  console.log(`1000 cycles in ${ms} ms; UDP sockets before ${udpBefore}, peak ${peak}, after ${udpAfter}; fds ${fdBefore} → ${fdCount()}; heap ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB`);
  expect(peak).toBeGreaterThan(udpBefore); // the cycles did open sockets
  expect(udpAfter).toBe(udpBefore);
  expect(fdCount()).toBeLessThanOrEqual(fdBefore + 2);
  expect(tickingCount()).toBe(0);
});
