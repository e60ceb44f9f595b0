// A log rotation while coturn runs loses nothing: logrotate's rename + SIGHUP (coturn reopens its
// log-file) and copytruncate, with real allocations before, between and after.
import fs from 'node:fs';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import { turnCredentials } from '../src/credentials';
import { LogFollower, RotateInfo } from '../src/follower';
import { TurnMonitor } from '../src/monitor';
import { runUclient } from './uclient';

jest.setTimeout(120000);

let coturn: StartedCoturn;
afterAll(async () => { await coturn?.stop(); });

const linesOf = (p: string) => fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).length;

test('rename + SIGHUP and copytruncate mid-run: every line and every allocation is seen', async () => {
  coturn = await startCoturn({ secret: 'rot', simpleLog: true });
  const monitor = new TurnMonitor();
  const follower = new LogFollower(coturn.logFile, { pollMs: 50 });
  const rotations: RotateInfo[] = [];
  follower.on('line', (l) => monitor.feed(l));
  follower.on('rotate', (r) => rotations.push(r));
  follower.start();
  const allocate = async (user: string) => {
    const c = turnCredentials('rot', user, 600);
    const r = await runUclient({ port: coturn.port, username: c.username, password: c.credential, messages: 5 });
    expect(r.code).toBe(0);
  };
  const peerPackets = (n: number) => waitFor(() => monitor.snapshot().totals.peer.rp === n, 20000, `${n} relayed packets`);

  await allocate('before');
  await peerPackets(10);

  // logrotate: rename, then postrotate SIGHUP; coturn reopens turn.log at its next log line.
  fs.renameSync(coturn.logFile, `${coturn.logFile}.1`);
  coturn.reopenLog();
  await allocate('between');
  await peerPackets(20);
  await waitFor(() => rotations.some((r) => r.reason === 'renamed'), 10000, 'the rename seen');

  // copytruncate (coturn opened the log with O_APPEND, so it keeps writing at the new end).
  fs.copyFileSync(coturn.logFile, `${coturn.logFile}.2`);
  fs.truncateSync(coturn.logFile, 0);
  await allocate('after');
  await peerPackets(30);
  await waitFor(() => rotations.some((r) => r.reason === 'truncated'), 10000, 'the truncation seen');

  // Nothing lost: the follower emitted exactly the lines of the three files.
  const expected = () => linesOf(`${coturn.logFile}.1`) + linesOf(`${coturn.logFile}.2`) + linesOf(coturn.logFile);
  await waitFor(() => follower.lines === expected(), 10000, 'all lines');
  const s = monitor.snapshot();
  expect(s.totals.sessionsStarted).toBe(9); // three uclient runs, three allocations each
  expect(s.totals.lines.total).toBe(expected());
  await follower.stop();
});
