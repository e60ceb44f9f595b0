// A media worker thread's entry point (started by pool.ts): one MediaWorkerHost on this thread.
import { parentPort, workerData } from 'node:worker_threads';
import { MediaWorkerHost } from './host';
import { setNativeSend } from '../native';
import type { FromWorker, ToWorker, WorkerData } from './protocol';

const port = parentPort!;
setNativeSend((workerData as WorkerData).nativeSend);
const host = new MediaWorkerHost(workerData as WorkerData, (m: FromWorker) => port.postMessage(m));
port.on('message', (m: ToWorker) => host.receive(m));
void host.start();
