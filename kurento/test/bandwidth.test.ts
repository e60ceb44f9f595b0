// The REMB a presenter gets from the engine (bandwidth.ts): KMS's rules, with the audio the viewers
// receive taken off their estimates so that video gives way first.
import { ESTIMATE_TTL_MS, HOLD_AFTER_LOSS_MS, LossEstimate, rembBitrate, videoBudget, type SinkBandwidth } from '../src/media/bandwidth';

const NOW = 1_000_000;
const sink = (bps: number | null, min = 100, max = 500, at = NOW): SinkBandwidth => ({
  minVideoSendKbps: min, maxVideoSendKbps: max, remoteEstimate: bps === null ? null : { bps, at },
});

test('without viewers\' estimates the presenter endpoint\'s maxVideoRecvBandwidth is the limit (0: none)', () => {
  expect(videoBudget(500_000, [], 0, NOW)).toBe(500_000);
  expect(videoBudget(500_000, [sink(null)], 0, NOW)).toBe(500_000);
  expect(videoBudget(0, [sink(null)], 0, NOW)).toBe(0);
});

test('the lowest viewer wins, after the audio it receives is taken off its estimate', () => {
  expect(videoBudget(500_000, [sink(2_000_000), sink(400_000)], 128_000, NOW)).toBe(272_000);
  // A fast viewer is held to its maxVideoSendBandwidth (KMS default 500 kbps)…
  expect(videoBudget(0, [sink(5_000_000)], 128_000, NOW)).toBe(500_000);
  expect(videoBudget(0, [sink(5_000_000, 100, 0)], 128_000, NOW)).toBe(4_872_000); // max 0: none
  // …and a slow one cannot push the video under its minVideoSendBandwidth (KMS default 100 kbps).
  expect(videoBudget(500_000, [sink(150_000)], 128_000, NOW)).toBe(100_000);
});

test('an estimate older than the TTL no longer limits', () => {
  expect(videoBudget(500_000, [sink(200_000, 100, 500, NOW - ESTIMATE_TTL_MS - 1)], 0, NOW)).toBe(500_000);
  expect(videoBudget(500_000, [sink(200_000, 100, 500, NOW - ESTIMATE_TTL_MS)], 0, NOW)).toBe(200_000);
});

test('a REMB bitrate goes on the wire as mantissa and exponent, and reads back (within the mantissa\'s precision)', () => {
  const { ReceiverEstimatedMaxBitrate } = jest.requireActual('werift') as typeof import('werift');
  for (const bps of [0, 1000, 262_143, 262_144, 500_000, 2_500_000, 1e9]) {
    const wire = new ReceiverEstimatedMaxBitrate({ senderSsrc: 1, mediaSsrc: 0, ssrcNum: 1, ssrcFeedbacks: [2], ...rembBitrate(bps) }).serialize();
    const read = Number(ReceiverEstimatedMaxBitrate.deSerialize(wire).bitrate);
    expect(read).toBeLessThanOrEqual(bps);
    expect(read).toBeGreaterThanOrEqual(bps * (1 - 2 ** -17));
  }
});

test('a viewer\'s loss becomes a limit: cut by the loss above 5 %, held after loss, then probed 2 % a second, once a second', () => {
  const e = new LossEstimate();
  e.report(0.005, 400_000, 0);
  expect(e.bps).toBe(0); // no loss, no limit
  e.report(0.2, 400_000, 1000);
  expect(e.bps).toBe(320_000);
  e.report(0.9, 400_000, 1500); // within the second: ignored
  expect(e.bps).toBe(320_000);
  e.report(0.9, 400_000, 2000);
  expect(e.bps).toBe(200_000); // never below half of what was sent
  e.report(0.03, 200_000, 3000);
  expect(e.bps).toBe(200_000); // 1–5 %: hold
  // No loss since 3 s: the limit stays put for the hold…
  for (let t = 4000; t < 3000 + HOLD_AFTER_LOSS_MS; t += 1000) e.report(0, 200_000, t);
  expect(e.bps).toBe(200_000);
  // …then probes upwards, 2 % a second.
  e.report(0, 200_000, 3000 + HOLD_AFTER_LOSS_MS);
  expect(e.bps).toBeCloseTo(204_000);
  e.report(0, 200_000, 4000 + HOLD_AFTER_LOSS_MS);
  expect(e.bps).toBeCloseTo(208_080);
  for (let t = 5000 + HOLD_AFTER_LOSS_MS; t < 60_000 + HOLD_AFTER_LOSS_MS; t += 1000) e.report(0, 100_000, t);
  expect(e.bps).toBe(0); // no longer binding (above twice what is sent): dropped
});

test('a probing step that brings loss back is undone at once, and the hold starts again', () => {
  const e = new LossEstimate();
  e.report(0.1, 300_000, 0);
  expect(e.bps).toBe(270_000);
  let t = HOLD_AFTER_LOSS_MS;
  e.report(0, 270_000, t);
  expect(e.bps).toBeCloseTo(275_400);
  e.report(0.02, 275_000, (t += 1000)); // the edge
  expect(e.bps).toBe(270_000);
  e.report(0, 270_000, (t += 1000));
  e.report(0, 270_000, (t += HOLD_AFTER_LOSS_MS - 2000));
  expect(e.bps).toBe(270_000); // held again from the loss
  e.report(0, 270_000, (t += 2000));
  expect(e.bps).toBeCloseTo(275_400);
  // Loss within the same second as a change still counts for the hold.
  e.report(0.5, 275_000, t + 500);
  e.report(0, 275_000, t + 1000);
  expect(e.bps).toBeCloseTo(275_400);
  e.report(0, 275_000, t + HOLD_AFTER_LOSS_MS);
  expect(e.bps).toBeCloseTo(275_400);
});

test('a loss limit held in the 1–5 % band stays current while reports come (it does not lapse after the TTL)', () => {
  const e = new LossEstimate();
  e.report(0.2, 400_000, 0);
  for (let t = 1000; t <= 20_000; t += 1000) e.report(0.03, 320_000, t);
  expect(e.bps).toBe(320_000);
  expect(videoBudget(0, [{ minVideoSendKbps: 100, maxVideoSendKbps: 0, remoteEstimate: { bps: e.bps, at: e.at } }], 0, 20_000)).toBe(320_000);
});
