// The keyframe group a new sink starts from (gop-cache.ts): a short group is offered whole; a long one
// (a browser's encoder makes keyframes only when asked, so a busk's group can be a minute old) is not,
// so the sink asks for a fresh keyframe instead of each joiner of a storm being sent the whole minute;
// a file's player, which cannot make a keyframe, offers everything it keeps.
import { RtpHeader, RtpPacket } from 'werift';
import { GopCache, REPLAY_MAX_PACKETS } from '../src/media/gop-cache';
import { packetize } from '../src/media/player';

let seq = 0;
/** One VP8 frame's packets (RFC 7741), `keyframe` or not, at `ts`. */
function frame(keyframe: boolean, ts: number, bytes = 500): RtpPacket[] {
  const data = Buffer.alloc(bytes, 0x55);
  data[0] = keyframe ? 0x10 : 0x11; // frame tag: P bit clear on a keyframe
  return packetize('vp8', data, keyframe).map((p) => new RtpPacket(new RtpHeader({ ssrc: 1, payloadType: 96, sequenceNumber: seq++ & 0xffff, timestamp: ts, marker: p.marker }), p.payload));
}

test('a group up to REPLAY_MAX_PACKETS is offered whole; a longer one is not, until the next keyframe starts a short one', () => {
  const gop = new GopCache();
  expect(gop.packets).toBeNull(); // nothing yet
  let ts = 0;
  for (const p of frame(false, ts += 3000)) gop.push(p, 'vp8');
  expect(gop.packets).toBeNull(); // no keyframe seen
  const key = frame(true, ts += 3000, 2000); // two packets
  for (const p of key) gop.push(p, 'vp8');
  expect(gop.packets).toEqual(key);
  while ((gop.packets?.length ?? Infinity) < REPLAY_MAX_PACKETS) for (const p of frame(false, ts += 3000)) gop.push(p, 'vp8');
  expect(gop.packets).toHaveLength(REPLAY_MAX_PACKETS);
  expect(gop.packets![0]).toBe(key[0]);
  for (const p of frame(false, ts += 3000)) gop.push(p, 'vp8');
  expect(gop.packets).toBeNull(); // too long to replay: the sink asks for a keyframe
  const next = frame(true, ts += 3000);
  for (const p of next) gop.push(p, 'vp8');
  expect(gop.packets).toEqual(next);
});

test('a cache made for a file offers its whole group (up to what it keeps)', () => {
  const gop = new GopCache(Infinity);
  let ts = 0;
  for (const p of frame(true, ts)) gop.push(p, 'vp8');
  for (let i = 0; i < REPLAY_MAX_PACKETS * 2; i++) for (const p of frame(false, ts += 3000)) gop.push(p, 'vp8');
  expect(gop.packets).toHaveLength(REPLAY_MAX_PACKETS * 2 + 1);
});
