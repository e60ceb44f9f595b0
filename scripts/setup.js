#!/usr/bin/env node
// Makes a fresh clone ready for `npm start` or `npm test`: installs npm packages (from the lock file,
// registry only), checks/installs the Debian packages the tests drive for real, and builds TypeScript
// and the web bundle. Plain JavaScript on purpose: it runs before anything else is installed.
'use strict';
const { execSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const purpose = (process.argv.find((a) => a.startsWith('--for=')) || '--for=start').slice(6);

// Programs the test suite starts itself on 127.0.0.1 (never mocked), and the Debian package of each.
const TEST_PROGRAMS = [
  { bin: 'chromium', pkg: 'chromium', why: 'browser tests (headless, fake camera)' },
  { bin: 'redis-server', pkg: 'redis-server', why: 'Redis state and multi-node tests' },
  { bin: 'turnserver', pkg: 'coturn', why: 'TURN credential and log monitor tests' },
  { bin: 'turnutils_uclient', pkg: 'coturn', why: 'real TURN allocations in tests' },
  { bin: 'prometheus', pkg: 'prometheus', why: 'the alert rules fired by a real Prometheus against the service' },
  { bin: 'promtool', pkg: 'prometheus', why: 'promtool check rules on deploy/monitoring/alerts.yml' },
  { bin: 'ffmpeg', pkg: 'ffmpeg', why: 'cutting shorts (stream copy) and making test recordings' },
  { bin: 'ffprobe', pkg: 'ffmpeg', why: 'durations of recordings and shorts; reading the files RecorderEndpoint writes' },
  { bin: '/usr/lib/postgresql/15/bin/initdb', pkg: 'postgresql', why: 'the SQL tests against a real PostgreSQL 15 (a private cluster per test)' },
  // The media engine's native addon (kurento/native), built by node-gyp; its tests fail without it.
  { bin: 'cc', pkg: 'gcc', why: 'compiling the media engine\'s native send path (kurento/native)' },
  { bin: 'make', pkg: 'make', why: 'node-gyp\'s build of kurento/native' },
  { bin: 'python3', pkg: 'python3', why: 'node-gyp (it is a Python program)' },
];

function log(msg) { process.stderr.write(`[setup] ${msg}\n`); }
function has(bin) { return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0; }
function run(cmd) { execSync(cmd, { cwd: root, stdio: 'inherit' }); }

function newer(a, b) {
  try { return fs.statSync(a).mtimeMs > fs.statSync(b).mtimeMs; } catch { return true; }
}

function ensureNodeModules() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  if (!fs.existsSync(marker) || newer(path.join(root, 'package-lock.json'), marker)) {
    log('installing npm packages (npm ci)');
    run('npm ci --no-audit --no-fund');
  }
}

function ensureDebianPackages() {
  const missing = TEST_PROGRAMS.filter((p) => !has(p.bin));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((p) => p.pkg))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    log(`installing Debian packages: ${pkgs.join(' ')}`);
    run('apt-get update -qq');
    run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs.join(' ')}`);
    return;
  }
  for (const p of missing) log(`missing ${p.bin} (${p.why})`);
  log(`the tests need these Debian packages: sudo apt-get install ${pkgs.join(' ')}`);
  process.exit(1);
}

function build() {
  log('building TypeScript and the web bundle');
  run('npx tsc -p tsconfig.build.json');
  run('node scripts/copy-migrations.js');
  if (fs.existsSync(path.join(root, 'web', 'build.js'))) run('node web/build.js');
  require('./build-native').build();
}

ensureNodeModules();
if (purpose === 'test') ensureDebianPackages();
if (!process.argv.includes('--no-build')) build();
