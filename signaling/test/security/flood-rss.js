#!/usr/bin/env node
// Memory figures for the broker floods of issue 17 (items 2 and 4), before/after a fix: a child
// process runs one broker (the service's rules: SEND only to /app/**, anonymous sessions, default
// limits) from a bundle of signaling/src/stomp, and reports process.memoryUsage().rss; this process
// floods it over TCP and prints RSS at each step.
//
//   npx esbuild signaling/src/stomp/index.ts --bundle --platform=node --format=cjs --outfile=/tmp/stomp.js
//   node signaling/test/security/flood-rss.js /tmp/stomp.js
//
// or against the whole service, with /healthz polled (bundle as in offer-flood.js):
//   NODE_PATH=$PWD/node_modules node signaling/test/security/flood-rss.js --service /tmp/svc.js
//
// Not a test (no timing or memory assertions belong in tests); the tests are *.test.ts beside it.
'use strict';
const { fork } = require('node:child_process');
const net = require('node:net');

if (process.argv[2] === '--child') {
  const { Broker } = require(process.argv[3]);
  const broker = new Broker({ logger: { debug() {}, info() {}, warn() {}, error() {} } });
  broker.listenTcp(0, '127.0.0.1').then((port) => process.send({ port }));
  process.on('message', (m) => {
    if (m === 'rss') process.send({ rss: process.memoryUsage().rss, sessions: broker.stats().sessions });
  });
  return;
}

// --service: the child runs the whole service instead (a bundle of signaling/src/service as in
// offer-flood.js), and /healthz is polled every 50 ms through both floods: its slowest answer is
// printed with each figure (issue 17: under 100 ms).
if (process.argv[2] === '--child-service') {
  const os = require('node:os');
  const { startService, loadConfig } = require(process.argv[3]);
  const config = loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '0', LOG_LEVEL: 'error',
    JWT_SECRET: 'flood-rss-secret'.padEnd(40, 'x'), DATA_DIR: require('node:path').join(os.tmpdir(), `flood-rss-${process.pid}`),
  });
  startService(config).then((svc) => process.send({ port: svc.stompTcpPort, url: svc.url }));
  process.on('message', (m) => { if (m === 'rss') process.send({ rss: process.memoryUsage().rss }); });
  return;
}

const service = process.argv[2] === '--service';
const bundle = require('node:path').resolve(process.argv[service ? 3 : 2]);
const MB = 1024 * 1024;
const child = fork(__filename, [service ? '--child-service' : '--child', bundle], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const next = () => new Promise((res) => child.once('message', res));
let slowest = 0;
const rss = async () => {
  child.send('rss');
  const m = await next();
  const out = `${(m.rss / MB).toFixed(0)} MB${service ? `, slowest /healthz since the last figure ${slowest} ms` : ''}`;
  slowest = 0;
  return out;
};
function pollHealth(url) {
  const http = require('node:http');
  const once = () => {
    const t0 = Date.now();
    http.get(`${url}/healthz`, (r) => { r.resume(); r.on('end', () => { slowest = Math.max(slowest, Date.now() - t0); setTimeout(once, 50); }); })
      .on('error', () => setTimeout(once, 50));
  };
  once();
}
const tick = (ms) => new Promise((res) => setTimeout(res, ms));

function open(port) {
  return new Promise((res) => {
    const s = net.connect(port, '127.0.0.1', () => res(s));
    s.on('error', () => {});
    s.closedFlag = false;
    s.on('close', () => (s.closedFlag = true));
    s.resume();
  });
}

function write(s, buf) {
  return new Promise((res) => (s.closedFlag || !s.write(buf) ? s.once('drain', res) && setTimeout(res, 200) : res()));
}

(async () => {
  const { port, url } = await next();
  if (url) { pollHealth(url); await tick(2000); } // the first answers are cold (JIT, lazy routes)
  console.log(`${service ? 'service' : 'broker'} ${bundle}`);
  console.log(`idle: ${await rss()}`);

  // Item 2: one anonymous session, BEGIN, then 400 × 1.9 MB SENDs in the transaction; then ABORT.
  const s = await open(port);
  s.write('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0BEGIN\ntransaction:t\n\n\0');
  const body = Buffer.alloc(Math.floor(1.9 * MB), 0x61);
  const head = Buffer.from(`SEND\ndestination:/app/flood\ntransaction:t\ncontent-length:${body.length}\n\n`);
  let sent = 0;
  for (; sent < 400 && !s.closedFlag; sent++) await write(s, Buffer.concat([head, body, Buffer.from([0])]));
  await tick(500);
  console.log(`item 2, after ${sent} × 1.9 MB SENDs in one transaction (session ${s.closedFlag ? 'closed by the broker' : 'open'}): ${await rss()}`);
  if (!s.closedFlag) s.write('ABORT\ntransaction:t\n\n\0');
  await tick(2000);
  console.log(`item 2, 2 s after ABORT/close: ${await rss()}`);
  s.destroy();
  await tick(500);

  // Item 4: 200 sockets, each sends a CONNECT announcing a 2,000,000-byte body and 1 MB of it.
  const socks = [];
  const connectHead = Buffer.from('CONNECT\naccept-version:1.2\ncontent-length:2000000\n\n');
  const part = Buffer.alloc(MB, 0x62);
  for (let i = 0; i < 200; i++) {
    const c = await open(port);
    socks.push(c);
    await write(c, connectHead);
    await write(c, part);
  }
  await tick(1000);
  console.log(`item 4, 200 sockets each holding a 1 MB partial CONNECT (${socks.filter((c) => !c.closedFlag).length} still open): ${await rss()}`);
  for (const c of socks) c.destroy();
  child.kill();
  process.exit(0);
})();
