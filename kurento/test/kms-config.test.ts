// kurento/config is the one place both media servers are configured from: KMS reads the .ini
// files in docker-compose, the embedded engine reads the same files (kms-config.ts) in `npm run kms`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultKmsConfigDir, parseIni, readKmsConfig } from '../src/kms-config';
import { optionsFromEnv, stunFromUrl } from '../src/cli';
import { startMediaServer } from '../src';
import { RawRpc } from './raw-rpc-support';

test('parses KMS .conf.ini files: comments, blanks, sections', () => {
  expect(parseIni(';; comment\n# other\n[section]\nstunServerAddress = 10.0.0.1 \n;turnURL=x\nminPort=40000\n\nbroken line\n')).toEqual({ stunServerAddress: '10.0.0.1', minPort: '40000' });
});

test('the shipped kurento/config gives the embedded engine its defaults', () => {
  const dir = defaultKmsConfigDir();
  expect(fs.existsSync(path.join(dir, 'WebRtcEndpoint.conf.ini'))).toBe(true);
  expect(fs.existsSync(path.join(dir, 'BaseRtpEndpoint.conf.ini'))).toBe(true);
  JSON.parse(fs.readFileSync(path.join(dir, 'kurento.conf.json'), 'utf8'));
  const defaults = readKmsConfig(dir);
  expect(defaults.stunServerPort).toBe(3478);
  expect(defaults.portRange).toEqual({ min: 40000, max: 40999 });
});

test('STUN/TURN from the files reach WebRtcEndpoint properties; explicit options win', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-conf-'));
  fs.writeFileSync(path.join(dir, 'WebRtcEndpoint.conf.ini'), 'stunServerAddress=127.0.0.2\nstunServerPort=3479\nturnURL=kurento:pw@127.0.0.2:3478?transport=udp\n');
  const server = await startMediaServer({ port: 0, bindAddress: '127.0.0.1', kmsConfigDir: dir, stunServerPort: 4000 });
  const c = await RawRpc.open(server.url);
  try {
    const pipeline = (await c.call('create', { type: 'MediaPipeline' })).value;
    const ep = (await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } })).value;
    const get = async (operation: string) => (await c.call('invoke', { object: ep, operation })).value;
    expect(await get('getStunServerAddress')).toBe('127.0.0.2');
    expect(await get('getStunServerPort')).toBe(4000);
    expect(await get('getTurnUrl')).toBe('kurento:pw@127.0.0.2:3478?transport=udp');
    await c.call('release', { object: pipeline });
  } finally {
    await c.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cli options: KMS_HOST/KMS_PORT, STUN_URLS and RTP port range override the files', () => {
  expect(stunFromUrl('stun:stun.example.org:19302')).toEqual({ stunServerAddress: 'stun.example.org', stunServerPort: 19302 });
  expect(stunFromUrl('stun:10.0.0.5')).toEqual({ stunServerAddress: '10.0.0.5', stunServerPort: 3478 });
  expect(stunFromUrl('turn:x')).toBeNull();
  const opts = optionsFromEnv({ KMS_PORT: '9999', KMS_HOST: '0.0.0.0', STUN_URLS: 'stun:10.0.0.5:3478', RTP_MIN_PORT: '50000', RTP_MAX_PORT: '50100' });
  expect(opts).toMatchObject({ host: '0.0.0.0', port: 9999, stunServerAddress: '10.0.0.5', stunServerPort: 3478, portRange: { min: 50000, max: 50100 } });
  expect(optionsFromEnv({})).toMatchObject({ host: '127.0.0.1', port: 8888, kmsConfigDir: defaultKmsConfigDir() });
  expect(() => optionsFromEnv({ KMS_PORT: 'eighty' })).toThrow(/KMS_PORT/);
  expect(optionsFromEnv({ ENGINE_WORKERS: '2' }).workers).toBe(2);
  expect(optionsFromEnv({ ENGINE_WORKERS: '0' }).workers).toBeUndefined();
  for (const bad of ['-1', '65', 'two', '1.5']) expect(() => optionsFromEnv({ ENGINE_WORKERS: bad })).toThrow(/ENGINE_WORKERS must be 0 to 64/);
  expect(optionsFromEnv({}).nativeSend).toBeUndefined(); // on where built
  expect(optionsFromEnv({ ENGINE_NATIVE_SEND: 'off' }).nativeSend).toBe(false);
  expect(optionsFromEnv({ ENGINE_NATIVE_SEND: 'on' }).nativeSend).toBeUndefined();
  expect(() => optionsFromEnv({ ENGINE_NATIVE_SEND: 'fast' })).toThrow(/ENGINE_NATIVE_SEND must be on or off/);
});
