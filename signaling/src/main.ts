// `npm start`: the product on its configured (by default: embedded, in-memory, dev-token) setup.
import { loadConfig } from './config';
import { startService } from './service';
import { log } from './log';

async function main(): Promise<void> {
  const config = loadConfig();
  const svc = await startService(config);
  const browse = config.host === '0.0.0.0' ? 'localhost' : config.host;
  process.stdout.write(`Open http://${browse}:${svc.httpPort}/\n`);
  log.info('main', `node ${svc.nodeId}: STOMP ws ${svc.stompUrl}${svc.stompTcpPort !== null ? `, tcp ${svc.stompTcpPort}` : ''}; media ${svc.kmsUrls.join(', ')}; state ${svc.state.kind}${config.devTokens ? '; development tokens ON (POST /api/dev/token)' : ''}`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('main', `${sig}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10000);
    force.unref();
    svc.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((e) => {
    log.error('main', 'failed to start', e);
    process.exit(1);
  });
}

export { startService } from './service';
