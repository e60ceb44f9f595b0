// The busker's camera and microphone, with the choice of device. Asked for only when the busker
// presses the button (the browser's permission prompt should follow a clear intent).
export interface Devices { cameras: MediaDeviceInfo[]; microphones: MediaDeviceInfo[] }

export class Camera {
  stream: MediaStream | null = null;

  async open(cameraId?: string, microphoneId?: string): Promise<MediaStream> {
    const video: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
    if (cameraId) video.deviceId = { exact: cameraId };
    const audio: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: false, autoGainControl: false }; // music, not speech
    if (microphoneId) audio.deviceId = { exact: microphoneId };
    const next = await navigator.mediaDevices.getUserMedia({ video, audio });
    this.close();
    this.stream = next;
    return next;
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
}
