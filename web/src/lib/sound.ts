// Music-grade sound. Browsers process a microphone for speech (echo cancellation, noise suppression,
// automatic gain), which pumps and cuts sustained notes, and negotiate Opus without parameters, which
// runs mono at speech bitrates. A busk picks a sound mode; each mode sets its own capture constraints
// and its own Opus parameters, and the parameters are written into every SDP this page sends or
// applies, because that is where browsers read them:
// - a sender encodes stereo and at `maxaveragebitrate` only when the REMOTE description's Opus fmtp
//   asks for it (the media server's answer: the engine echoes the offer's parameters, KMS may not);
// - a receiver decodes stereo only when both its local and its remote description's Opus fmtp say
//   `stereo=1` (Chromium 156: with either missing, a stereo stream plays as mono).
export type SoundMode = 'music-headphones' | 'music-speaker' | 'voice';

export interface SoundSettings { mode: SoundMode; bitrateKbps: number }

export const SOUND_MODES: Record<SoundMode, string> = {
  'music-headphones': 'Music, headphones or line-in',
  'music-speaker': 'Music, speaker nearby',
  voice: 'Voice',
};

/** Opus average bitrates offered in the studio (kbps); 128 is the default, 256 the most Opus takes for stereo music. */
export const MUSIC_BITRATES_KBPS = [96, 128, 160, 192, 256] as const;
export const DEFAULT_SOUND: SoundSettings = { mode: 'music-headphones', bitrateKbps: 128 };

const SOUND_KEY = 'busking.sound';

export function loadSound(): SoundSettings {
  try {
    const saved = JSON.parse(localStorage.getItem(SOUND_KEY) ?? 'null') as Partial<SoundSettings> | null;
    const mode = saved?.mode && saved.mode in SOUND_MODES ? saved.mode : DEFAULT_SOUND.mode;
    const bitrateKbps = MUSIC_BITRATES_KBPS.includes(saved?.bitrateKbps as never) ? saved!.bitrateKbps! : DEFAULT_SOUND.bitrateKbps;
    return { mode, bitrateKbps };
  } catch {
    return { ...DEFAULT_SOUND };
  }
}

export function saveSound(s: SoundSettings): void {
  localStorage.setItem(SOUND_KEY, JSON.stringify(s));
}

/** getUserMedia audio constraints for a mode: music turns the speech processing off and asks for two channels. */
export function captureConstraints(mode: SoundMode): MediaTrackConstraints {
  if (mode === 'voice') return {}; // the browser's defaults: processing on, as for a call
  return {
    echoCancellation: mode === 'music-speaker', // a speaker near the microphone needs it; headphones and line-in do not
    noiseSuppression: false,
    autoGainControl: false,
    channelCount: { ideal: 2 }, // stereo where the device has two channels
    sampleRate: { ideal: 48000 },
  };
}

/**
 * Opus fmtp parameters a mode asks for; null for voice (the browser's defaults). Frames stay at
 * 20 ms, the browsers' Opus default (a ptime is an SDP attribute, not an Opus fmtp parameter).
 */
export function opusParameters(s: SoundSettings): Record<string, string> | null {
  if (s.mode === 'voice') return null;
  return {
    stereo: '1', 'sprop-stereo': '1', maxaveragebitrate: String(s.bitrateKbps * 1000),
    useinbandfec: '1', usedtx: '0',
  };
}

/** The parameters a receiver needs to decode stereo (harmless for a mono stream). */
export const STEREO_RECEIVE: Record<string, string> = { stereo: '1' };

// One SDP function for the web app and the service (the service writes stereo into WHEP answers).
export { withOpusParameters } from '../../../signaling/src/protocol/opus';
