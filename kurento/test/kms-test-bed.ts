// The jest scene of the kurento-client test files: engine, client and peer host for one file. Kept
// apart from kms-client-support.ts, which bench:media imports too and which must not need jest.
import { startMediaServer, type MediaServer } from '../src';
import { PeerHost } from './media-support';
import { closeKms, connectKms, quietConsole, type Kms } from './kms-client-support';

export interface KmsTestBed { server: MediaServer; kms: Kms; host: PeerHost; stops: (() => unknown)[] }

/**
 * An engine on a free port, a kurento-client connected to it and a wrtc peer host, for one test file
 * (or one describe block); `stops` run after. `workers`: the engine's media worker threads (0: none).
 */
export function kmsTestBed(options: { workers?: number } = {}): KmsTestBed {
  const bed = { stops: [] } as unknown as KmsTestBed;
  let restoreConsole: () => void = () => undefined;
  beforeAll(async () => {
    restoreConsole = quietConsole();
    bed.server = await startMediaServer({ port: 0, bindAddress: '127.0.0.1', workers: options.workers });
    bed.kms = await connectKms(bed.server.url);
    bed.host = new PeerHost();
    await bed.host.ready;
  });
  afterAll(async () => {
    for (const s of bed.stops.reverse()) await s();
    bed.host?.stop();
    await closeKms(bed.kms);
    await bed.server?.close();
    restoreConsole();
  });
  return bed;
}
