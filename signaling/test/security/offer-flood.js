#!/usr/bin/env node
// Memory and stall figures for the SDP flood of issue 17 item 1, before/after a fix: a child process
// runs the whole service (embedded media engine, in-memory state) from an esbuild bundle; this
// process starts a busk with a synthetic presenter offer, then ten anonymous sessions each send a
// viewer offer of ~604 m-lines (just under the 64 KiB SDP cap) while /healthz is polled. It prints
// the child's RSS and the slowest /healthz answer.
//
//   printf "export * from '$PWD/signaling/src/service';\nexport { loadConfig } from '$PWD/signaling/src/config';\n" > /tmp/svc-entry.ts
//   npx esbuild /tmp/svc-entry.ts --bundle --platform=node --format=cjs --packages=external --outfile=/tmp/svc.js
//   NODE_PATH=$PWD/node_modules node signaling/test/security/offer-flood.js /tmp/svc.js
//
// Not a test (no timing or memory assertions belong in tests); the test is sdp-limits.test.ts.
'use strict';
const { fork } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

if (process.argv[2] === '--child') {
  const { startService, loadConfig } = require(process.argv[3]);
  const config = loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'error', DEV_TOKENS: 'true',
    JWT_SECRET: 'offer-flood-secret'.padEnd(40, 'x'), DATA_DIR: path.join(os.tmpdir(), `offer-flood-${process.pid}`),
  });
  startService(config).then((svc) => process.send({ url: svc.url, stompUrl: svc.stompUrl }));
  process.on('message', (m) => { if (m === 'rss') process.send({ rss: process.memoryUsage().rss }); });
  return;
}

const WebSocket = require('ws');
const MB = 1024 * 1024;
const bundle = path.resolve(process.argv[2]);
const child = fork(__filename, ['--child', bundle], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const next = () => new Promise((res) => child.once('message', res));
const rss = async () => { child.send('rss'); return `${((await next()).rss / MB).toFixed(0)} MB`; };
const tick = (ms) => new Promise((res) => setTimeout(res, ms));

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).padStart(2, '0').toUpperCase()).join(':');
const SESSION = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=ice-ufrag:fl00', 'a=ice-pwd:floodfloodfloodfloodfl00',
  `a=fingerprint:sha-256 ${FINGERPRINT}`, 'a=setup:actpass'];
const section = (mid, dir) => ['m=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, `a=${dir}`, 'a=rtcp-mux', 'a=rtpmap:96 VP8/90000'];
const sdp = (lines) => `${lines.join('\r\n')}\r\n`;
const PRESENTER = sdp([...SESSION, 'a=group:BUNDLE 0', ...section('0', 'sendonly'), 'a=ssrc:1111 cname:flood']);
function floodOffer() {
  const mids = [];
  const body = [];
  for (let i = 0; sdp([...SESSION, ...body]).length < 64 * 1024 - 200; i++) { mids.push(String(i)); body.push(...section(String(i), 'recvonly')); }
  return sdp([...SESSION, `a=group:BUNDLE ${mids.slice(0, 4).join(' ')}`, ...body.slice(0, -6)]);
}

/** A minimal STOMP-over-WebSocket client: CONNECT, SUBSCRIBE, SEND with receipts. */
function stomp(url, token) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['v12.stomp']);
    const frames = [];
    const waiters = [];
    ws.on('message', (d) => {
      const f = d.toString();
      frames.push(f);
      for (const w of waiters.splice(0)) if (!w(f)) waiters.push(w);
    });
    ws.on('error', () => {});
    const c = {
      ws, frames,
      send: (cmd, headers, body = '') => ws.send(`${cmd}\n${Object.entries(headers).map(([k, v]) => `${k}:${v}`).join('\n')}\n\n${body}\0`),
      wait: (pred) => new Promise((res) => { const f = frames.find(pred); if (f) res(f); else waiters.push((x) => (pred(x) ? (res(x), true) : false)); }),
    };
    ws.on('open', async () => {
      c.send('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0', ...(token ? { passcode: token } : {}) });
      await c.wait((f) => f.startsWith('CONNECTED'));
      c.send('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors' });
      c.send('SUBSCRIBE', { id: 'b', destination: '/user/queue/busk', receipt: 'subs' });
      await c.wait((f) => f.includes('receipt-id:subs'));
      resolve(c);
    });
  });
}

(async () => {
  const { url, stompUrl } = await next();
  console.log(`service ${bundle}`);
  await tick(1000);
  console.log(`idle: ${await rss()}`);
  const res = await fetch(`${url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Flood', roles: ['busker'] }) });
  const { token } = await res.json();
  const busker = await stomp(stompUrl, token);
  busker.send('SEND', { destination: '/app/busk.start', 'content-type': 'application/json' }, JSON.stringify({ title: 'Flood' }));
  const started = await busker.wait((f) => f.includes('"started"'));
  const buskId = /"buskId":"([^"]+)"/.exec(started)[1];
  busker.send('SUBSCRIBE', { id: 'p', destination: `/user/queue/busk.${buskId}` });
  busker.send('SEND', { destination: `/app/busk.${buskId}.offer`, 'content-type': 'application/json' }, JSON.stringify({ sdpOffer: PRESENTER }));
  await busker.wait((f) => f.includes('"answer"') || f.includes('"code"'));
  console.log(`busk ${buskId} presenting: ${await rss()}`);

  const offer = floodOffer();
  console.log(`flood offer: ${offer.length} bytes, ${(offer.match(/\nm=/g) || []).length} m-lines`);
  let worst = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const t0 = performance.now();
      await fetch(`${url}/healthz`).then((r) => r.text());
      worst = Math.max(worst, performance.now() - t0);
      await tick(20);
    }
  })();
  let peak = 0;
  const sampler = setInterval(async () => { child.send('rss'); }, 250);
  child.on('message', (m) => { if (m.rss) peak = Math.max(peak, m.rss); });
  const t0 = performance.now();
  const viewers = await Promise.all(Array.from({ length: 10 }, () => stomp(stompUrl)));
  const outcomes = await Promise.all(viewers.map(async (v) => {
    v.send('SUBSCRIBE', { id: 'v', destination: `/user/queue/busk.${buskId}` });
    v.send('SEND', { destination: `/app/busk.${buskId}.offer`, 'content-type': 'application/json' }, JSON.stringify({ sdpOffer: offer }));
    const f = await v.wait((x) => x.includes('"answer"') || x.includes('"code"'));
    return f.includes('"answer"') ? 'answer' : /"code":"([^"]+)"/.exec(f)[1];
  }));
  const allAnswered = performance.now() - t0;
  await tick(2000);
  polling = false;
  await poll;
  clearInterval(sampler);
  await tick(300);
  const counts = outcomes.reduce((m, o) => ({ ...m, [o]: (m[o] || 0) + 1 }), {});
  console.log(`ten flood offers answered in ${allAnswered.toFixed(0)} ms: ${JSON.stringify(counts)}`);
  console.log(`slowest /healthz during the flood: ${worst.toFixed(0)} ms; peak RSS ${(peak / MB).toFixed(0)} MB; 2 s after: ${await rss()}`);
  for (const v of viewers) v.ws.close();
  busker.ws.close();
  child.kill();
  process.exit(0);
})();
