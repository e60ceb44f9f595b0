/**
 * One service node alone in its own process (bench/crowd.ts: so that the CPU the crowd costs is
 * this process's CPU and nobody else's; bench/chaos.ts: so that it can be killed).
 * Configured by its environment, as the product is (the embedded engine runs in this process);
 * tells the parent 'ready' {url, pid} over IPC and stops on 'stop' or when the parent goes.
 */
import { loadConfig } from '../../signaling/src/config';
import { startService } from '../../signaling/src/service';

async function main(): Promise<void> {
  const svc = await startService(loadConfig(process.env));
  process.send!({ event: 'ready', url: svc.url, stompUrl: svc.stompUrl, pid: process.pid });
  const stop = async () => {
    const t = setTimeout(() => process.exit(0), 10000);
    await svc.close().catch(() => undefined);
    clearTimeout(t);
    process.exit(0);
  };
  process.on('message', (m: { cmd?: string }) => { if (m.cmd === 'stop') void stop(); });
  process.on('disconnect', () => void stop());
}

main().catch((e) => { process.stderr.write(`[service-node] ${(e as Error).stack}\n`); process.exit(1); });
