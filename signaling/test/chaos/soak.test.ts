// The soak at the suite's size (`npm run chaos` runs it for 10 minutes and reports the slopes): busks
// starting and ending, viewers joining, decoding and leaving, chat, over two nodes on Redis and the
// engine in its own process; afterwards nothing is left anywhere and no ERROR frame was sent.
import { runSoak } from '../../../test-support/soak-scenario';

jest.setTimeout(180000);

test('a compressed evening leaves no media object, no state, no session and no ERROR frame', async () => {
  const r = await runSoak({ minutes: 0.5, busks: 4, concurrentBusks: 2, viewerJoinsPerMinute: 40, chatPerSecond: 2, warmupMinutes: 0 });
  process.stderr.write(`soak: ${JSON.stringify({ counts: r.counts, errorsByCause: r.errorsByCause, appErrors: r.appErrors, nodes: r.nodes })}\n`);
  expect(r.counts.busksStarted).toBeGreaterThanOrEqual(3);
  expect(r.counts.busksEnded).toBe(r.counts.busksStarted);
  expect(r.counts.joins).toBeGreaterThanOrEqual(10);
  expect(r.counts.joinsDecoded).toBe(r.counts.joins);
  expect(r.counts.chatRefused).toBe(0);
  expect(r.pipelinesLeft).toBe(0);
  expect(r.redisKeysLeft).toEqual([]);
  for (const n of r.nodes) expect(n).toEqual({ busks: 0, viewers: 0, sessions: 0, mediaObjects: 0 });
  expect(r.errorsByCause).toEqual({});
  expect(r.appErrors).toEqual({});
});
