// withOpusParameters (web/src/lib/sound.ts): the SDP munging every sound mode relies on.
import { withOpusParameters } from '../src/lib/sound';

const MEDIA = ['m=audio 9 UDP/TLS/RTP/SAVPF 111 0', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:0 PCMU/8000'];

test('merges into the Opus fmtp line, overwriting what it sets and keeping the rest and the line ends', () => {
  const out = withOpusParameters(MEDIA.join('\r\n'), { stereo: '1', useinbandfec: '0' });
  expect(out.split('\r\n')).toEqual([MEDIA[0], MEDIA[1], 'a=fmtp:111 minptime=10;useinbandfec=0;stereo=1', MEDIA[3]]);
});

test('adds an fmtp line after an Opus rtpmap that has none; other codecs and SDPs without Opus are untouched', () => {
  const noFmtp = [MEDIA[0], 'a=rtpmap:96 OPUS/48000/2', MEDIA[3]].join('\n');
  expect(withOpusParameters(noFmtp, { stereo: '1' }).split('\n')).toEqual([MEDIA[0], 'a=rtpmap:96 OPUS/48000/2', 'a=fmtp:96 stereo=1', MEDIA[3]]);
  const video = 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1';
  expect(withOpusParameters(video, { stereo: '1' })).toBe(video);
});
