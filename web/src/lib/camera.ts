// The busker's camera and microphone, with the choice of device. Asked for only when the busker
// presses the button (the browser's permission prompt should follow a clear intent).
//
// On a phone: the front or rear camera (facingMode), remembered between shows; frames shaped like
// the screen (portrait or landscape) so viewers see the show the way the busker holds the phone; and
// a restart for the tracks the browser stopped while the page was in the background.
import { captureConstraints, DEFAULT_SOUND, type SoundMode } from './sound';

export interface Devices { cameras: MediaDeviceInfo[]; microphones: MediaDeviceInfo[] }

export type Facing = 'user' | 'environment';

const FACING_KEY = 'busking.facing';
/** The microphone chosen last (a mixer or an instrument interface is chosen once, not every show). */
const MICROPHONE_KEY = 'busking.microphone';
const LONG_SIDE = 1280;
const SHORT_SIDE = 720;

function portrait(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(orientation: portrait)').matches;
}

export class Camera {
  stream: MediaStream | null = null;
  /** The camera asked for last; the one a phone opens next time too. */
  facing: Facing = (localStorage.getItem(FACING_KEY) as Facing | null) === 'environment' ? 'environment' : 'user';
  private cameraId: string | undefined;
  private microphoneId: string | undefined;
  /** How the microphone is captured (sound.ts): music turns the browser's speech processing off. */
  soundMode: SoundMode = DEFAULT_SOUND.mode;
  /** The devices of the tracks last opened: a restart reopens these (the rear camera stays the rear). */
  private lastIds: { video?: string; audio?: string } = {};

  async open(cameraId?: string, microphoneId?: string): Promise<MediaStream> {
    this.cameraId = cameraId;
    this.microphoneId = microphoneId;
    const audio = captureConstraints(this.soundMode);
    const remembered = localStorage.getItem(MICROPHONE_KEY);
    // The chosen device, else the remembered one. Exactly: as `ideal` it loses to a device that fits
    // the sound mode's other constraints better (two channels). A remembered device that is gone
    // (unplugged) falls back to the default.
    const micId = microphoneId ?? remembered ?? undefined;
    if (micId) audio.deviceId = { exact: micId };
    let next: MediaStream;
    try {
      next = await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(), audio });
    } catch (e) {
      if (microphoneId || !micId) throw e;
      delete audio.deviceId;
      next = await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(), audio });
    }
    if (microphoneId) localStorage.setItem(MICROPHONE_KEY, microphoneId);
    this.close();
    return this.use(next);
  }

  private use(stream: MediaStream): MediaStream {
    this.stream = stream;
    for (const t of stream.getTracks()) this.lastIds[t.kind as 'video' | 'audio'] = t.getSettings().deviceId;
    return stream;
  }

  close(): void {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }

  /** Labels are only filled in once permission was given, so call this after open(). */
  async devices(): Promise<Devices> {
    const all = await navigator.mediaDevices.enumerateDevices();
    return { cameras: all.filter((d) => d.kind === 'videoinput'), microphones: all.filter((d) => d.kind === 'audioinput') };
  }

  currentId(kind: 'video' | 'audio'): string {
    const track = this.stream?.getTracks().find((t) => t.kind === kind);
    return track?.getSettings().deviceId ?? '';
  }

  /** The preview is mirrored for a camera facing the busker only (a rear camera's picture is not). */
  get mirrored(): boolean {
    const said = this.stream?.getVideoTracks()[0]?.getSettings().facingMode;
    return (said || this.facing) === 'user'; // desktop webcams report no facing: they face the user
  }

  /**
   * Front to rear or back. Only the video track changes (the microphone keeps running); the old
   * camera is stopped first because many phones cannot open two at once. Where no camera answers
   * to the other facing (a laptop, cameras that do not report it), the next camera in the device
   * list is taken instead.
   */
  async switchFacing(): Promise<MediaStream> {
    const old = this.stream;
    if (!old) throw new Error('the camera is off');
    const nextFacing: Facing = this.facing === 'user' ? 'environment' : 'user';
    const { cameras } = await this.devices();
    const currentId = this.currentId('video');
    old.getVideoTracks().forEach((t) => t.stop());
    let video: MediaStreamTrack;
    try {
      video = await this.videoTrack({ ...this.shape(), facingMode: { exact: nextFacing } });
    } catch {
      const at = cameras.findIndex((c) => c.deviceId === currentId);
      const id = cameras[(at + 1) % Math.max(1, cameras.length)]?.deviceId ?? currentId;
      video = await this.videoTrack({ ...this.shape(), deviceId: id ? { exact: id } : undefined });
    }
    this.facing = nextFacing;
    this.cameraId = undefined; // facing, not a device id, picks the camera from now on
    localStorage.setItem(FACING_KEY, nextFacing);
    return this.use(new MediaStream([video, ...old.getAudioTracks()]));
  }

  /** True when the browser stopped a track (the page was in the background, another app took the camera). */
  get stopped(): boolean {
    return !!this.stream && this.stream.getTracks().some((t) => t.readyState === 'ended');
  }

  /** Reopens what the browser stopped, with the same choices; tracks still running are kept. */
  async restart(): Promise<MediaStream> {
    const old = this.stream;
    if (!old) throw new Error('the camera is off');
    const live = old.getTracks().filter((t) => t.readyState === 'live');
    const wantVideo = !live.some((t) => t.kind === 'video');
    const wantAudio = !live.some((t) => t.kind === 'audio');
    if (!wantVideo && !wantAudio) return old;
    const audio = captureConstraints(this.soundMode);
    const micId = this.microphoneId ?? this.lastIds.audio;
    if (micId) audio.deviceId = { ideal: micId };
    const video = this.videoConstraints();
    if (this.lastIds.video) { delete video.facingMode; video.deviceId = { ideal: this.lastIds.video }; }
    const fresh = await navigator.mediaDevices.getUserMedia({ video: wantVideo ? video : false, audio: wantAudio ? audio : false });
    return this.use(new MediaStream([...live, ...fresh.getTracks()]));
  }

  /** The phone turned: the same track is asked for the other shape (no new track, no renegotiation). */
  async fitOrientation(): Promise<void> {
    const track = this.stream?.getVideoTracks()[0];
    if (!track || track.readyState !== 'live') return;
    await track.applyConstraints({ ...track.getConstraints(), ...this.shape() }).catch(() => undefined); // keeps the old shape
  }

  private shape(): MediaTrackConstraints {
    const p = portrait();
    return { width: { ideal: p ? SHORT_SIDE : LONG_SIDE }, height: { ideal: p ? LONG_SIDE : SHORT_SIDE }, frameRate: { ideal: 30 } };
  }

  private videoConstraints(): MediaTrackConstraints {
    const video = this.shape();
    if (this.cameraId) video.deviceId = { exact: this.cameraId };
    else video.facingMode = { ideal: this.facing };
    return video;
  }

  private async videoTrack(constraints: MediaTrackConstraints): Promise<MediaStreamTrack> {
    const s = await navigator.mediaDevices.getUserMedia({ video: constraints, audio: false });
    return s.getVideoTracks()[0];
  }
}
