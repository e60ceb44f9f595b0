// Slow and abusive clients at the suite's size (`npm run chaos` runs the same at full size and reports
// figures): slow consumers on a hot topic, slowloris at the HTTP and at the STOMP level, a session
// that subscribes without end, an ICE candidate flood. The service runs in its own process; what is
// asserted is what a well-behaved client and the operator see.
import { runAbuse } from '../../../test-support/abuse-scenario';

jest.setTimeout(120000);

test('slow and abusive clients are cut off by name while a well-behaved client stays served', async () => {
  const r = await runAbuse({ slowConsumers: 150, slowConsumerSeconds: 4, slowloris: 60, subscriptions: 1000, iceSessions: 3, icePerSession: 400, baselineSeconds: 2 });
  process.stderr.write(`${JSON.stringify(r.phases.map((p) => ({ phase: p.phase, s: p.seconds, stomp: p.stomp.p99, rest: p.rest.p99, chat: p.chat, detail: p.detail })))}\n`);
  expect(r.serviceAlive).toBe(true);
  const [baseline, slow, loris, subs, ice] = r.phases;
  // Every phase: the well-behaved client's STOMP and REST round trips all answered, none slow.
  for (const p of r.phases) {
    expect(p.stomp.failures + p.rest.failures + p.connect.failures).toBe(0);
    expect(p.stomp.samples).toBeGreaterThan(0);
    expect(p.stomp.p99).toBeLessThan(500);
    expect(p.rest.p99).toBeLessThan(500);
  }
  expect(baseline!.chat.delivered).toBe(baseline!.chat.sent);
  // The slow consumers were let in (guests spread over loopback addresses) and the hot topic kept flowing to the fan.
  expect(slow!.detail.opened).toBe(150);
  expect(slow!.chat.delivered).toBeGreaterThanOrEqual(slow!.chat.sent - 2);
  // Slowloris: the STOMP ones by the broker's connect timeout (10 s), the HTTP ones by the header timeout (10 s).
  expect(loris!.detail.stompClosedByServer).toBe(60);
  expect(loris!.detail.httpClosedByServer).toBe(60);
  expect(loris!.detail.httpAllClosedAfterMs).toBeLessThan(15000);
  expect(loris!.detail.connectTimeouts).toBe(60);
  // 10,000 subscriptions: the first 100 (STOMP_MAX_SUBSCRIPTIONS), then an ERROR and the socket closed.
  expect(subs!.detail).toMatchObject({ receipts: 100, error: 'too many subscriptions' });
  expect(subs!.detail.closedAfterMs).not.toBeNull();
  // ICE flood: refused as rate-limited (the leg's cap), the sessions slowed down, nothing crashed.
  expect((ice!.detail.errors as Record<string, number>)['rate-limited']).toBeGreaterThan(0);
  // The operator sees each cause by name in /metrics.
  expect(r.errorsByCause['connect timeout']).toBe(60);
  expect(r.errorsByCause['too many subscriptions']).toBe(1);
});
