// The soak at the suite's size (`npm run chaos` runs it for 10 minutes and reports the slopes): busks
// starting and ending, viewers joining, decoding and leaving, chat, over two nodes on Redis and the
// engine in its own process; afterwards nothing is left anywhere and no ERROR frame was sent.
import { runSoak } from '../../../test-support/soak-scenario';

jest.setTimeout(180000);

test('a compressed evening leaves no media object, no state, no session and no ERROR frame', async () => {
  const r = await runSoak({ minutes: 0.5, busks: 4, concurrentBusks: 2, viewerJoinsPerMinute: 40, chatPerSecond: 2, warmupMinutes: 0 });
  process.stderr.write(`soak: ${JSON.stringify({ counts: r.counts, joinFailures: r.joinFailures, errorsByCause: r.errorsByCause, appErrors: r.appErrors, nodes: r.nodes })}\n`);
  expect(r.counts.busksStarted).toBeGreaterThanOrEqual(3);
  expect(r.counts.busksEnded).toBe(r.counts.busksStarted);
  expect(r.counts.joins).toBeGreaterThanOrEqual(8);
  // Every join on a busk that stayed live decoded. The harness does not join a busk with less than
  // 6 s left, but a slow join can still outlast its busk: such a join may fail, and only it.
  expect(Object.keys(r.joinFailures).filter((why) => why.startsWith('busk live'))).toEqual([]);
  const racedEnd = Object.values(r.joinFailures).reduce((n, c) => n + c, 0);
  expect(r.counts.joinsDecoded + racedEnd).toBe(r.counts.joins);
  expect(Object.keys(r.chatRefusals).filter((why) => why.startsWith('busk live'))).toEqual([]); // none rate-limited or refused on a live busk
  expect(r.pipelinesLeft).toBe(0);
  expect(r.redisKeysLeft).toEqual([]);
  for (const n of r.nodes) expect(n).toEqual({ busks: 0, viewers: 0, sessions: 0, mediaObjects: 0 });
  expect(r.errorsByCause).toEqual({});
  // Errors on /user/queue/errors only for joins that raced their busk's end.
  if (racedEnd === 0) expect(r.appErrors).toEqual({});
  else expect(Object.keys(r.appErrors).filter((code) => !['not-found', 'conflict', 'media-error'].includes(code))).toEqual([]);
});
