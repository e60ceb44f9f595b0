// A real S3-compatible server for tests: s3rver (devDependency) in its own process on a free
// 127.0.0.1 port, speaking HTTP; credentials S3RVER/S3RVER. Stopped and its directory removed after.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, tcpOpen, waitFor } from './ports';
import { stopProcess } from './processes';

export interface S3Server { endpoint: string; accessKeyId: string; secretAccessKey: string; stop(): Promise<void> }

export async function startS3rver(): Promise<S3Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-'));
  const port = await freePort();
  const script = `const S3rver = require('s3rver'); new S3rver({ port: ${port}, address: '127.0.0.1', silent: true, directory: ${JSON.stringify(dir)} }).run().catch((e) => { console.error(e); process.exit(1); });`;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit'], cwd: path.resolve(__dirname, '..') });
  await waitFor(() => tcpOpen(port), 15000, `s3rver on ${port}`);
  return {
    endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER',
    async stop() { await stopProcess(proc); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
