import fs from 'node:fs';

export interface Tones { left: number; right: number; amplitude?: number; seconds?: number; rate?: number }

/**
 * A 16-bit PCM stereo WAV with one sine per channel, for Chromium's
 * `--use-file-for-fake-audio-capture` (which loops it): what a viewer hears can then be checked per
 * channel. A whole number of cycles per channel keeps the loop point click-free.
 */
export function writeToneWav(file: string, t: Tones): void {
  const rate = t.rate ?? 48000;
  const frames = Math.round((t.seconds ?? 4) * rate);
  const amp = Math.round((t.amplitude ?? 0.5) * 32767);
  const data = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    data.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * t.left * i) / rate)), i * 4);
    data.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * t.right * i) / rate)), i * 4 + 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + data.length, 4); header.write('WAVE', 8);
  header.write('fmt ', 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(2, 22);
  header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 4, 28); header.writeUInt16LE(4, 32); header.writeUInt16LE(16, 34);
  header.write('data', 36); header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}
