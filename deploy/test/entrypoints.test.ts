// The container entrypoints of docker-compose.yml, run here as plain scripts: coturn's against the
// real turnserver (Debian coturn) with the committed turnserver.prod.conf, KMS's with a stand-in for
// the image's /entrypoint.sh, and the turn-monitor's token minting against the service's verifier.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { freeTcpUdpPort, waitFor } from '../../test-support/ports';
import { requireProgram, stopProcess } from '../../test-support/processes';
import { turnCredentials } from '../../turn/src/credentials';
import { runUclient } from '../../turn/test/uclient';
import { TokenVerifier } from '../../signaling/src/auth/jwt';

const repo = path.resolve(__dirname, '..', '..');
let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busking-entry-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

describe('deploy/coturn-entrypoint.sh with the real turnserver', () => {
  const SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  let proc: ChildProcess | undefined;
  let port = 0;
  let log = '';
  let conf = '';
  let out = '';

  beforeAll(async () => {
    requireProgram('turnserver', 'coturn');
    port = await freeTcpUdpPort();
    log = path.join(tmp, 'turn.log');
    conf = path.join(tmp, 'turnserver.conf');
    proc = spawn('sh', [path.join(repo, 'deploy', 'coturn-entrypoint.sh'),
      // Command-line options override the file: loopback only, a free port, no TLS for the test.
      '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--no-tls', '--no-dtls', '--min-port=49160', '--max-port=59200'], {
      env: {
        PATH: process.env.PATH, COTURN_CONF_SRC: path.join(repo, 'turn', 'coturn', 'turnserver.prod.conf'),
        COTURN_CONF_OUT: conf, COTURN_PIDFILE: path.join(tmp, 'turn.pid'), TURN_LOG: log, TURN_SECRET: SECRET,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => { out += d; });
    proc.stderr!.on('data', (d) => { out += d; });
    await waitFor(() => fs.existsSync(log) && /listener opened on : 127\.0\.0\.1:\d+/.test(fs.readFileSync(log, 'utf8')), 15000, `turnserver on ${port}: ${out}`);
  }, 30000);
  afterAll(async () => { if (proc) await stopProcess(proc); });

  test('the generated configuration has the real secret, the log path, and no placeholder or proc-user', () => {
    const c = fs.readFileSync(conf, 'utf8');
    expect((fs.statSync(conf).mode & 0o077)).toBe(0);
    const active = c.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    expect(active.filter((l) => l.startsWith('static-auth-secret'))).toEqual([`static-auth-secret=${SECRET}`]);
    expect(active).toContain(`log-file=${log}`);
    expect(active).toContain('use-auth-secret');
    expect(active.some((l) => /^(proc-user|proc-group)\b/.test(l))).toBe(false);
    expect(active.some((l) => /<[A-Z_]+>/.test(l))).toBe(false);
  });

  test('shared-secret credentials from TURN_SECRET allocate; the committed placeholder secret does not', async () => {
    const good = turnCredentials(SECRET, 'alice', 600);
    await runUclient({ port, username: good.username, password: good.credential, messages: 1, timeoutMs: 8000 });
    await waitFor(() => /ALLOCATE processed, success/.test(fs.readFileSync(log, 'utf8')), 10000, 'a successful allocation in the log');

    const before = fs.readFileSync(log, 'utf8').split('ALLOCATE processed, success').length;
    const bad = turnCredentials('<TURN_SECRET>', 'mallory', 600);
    await runUclient({ port, username: bad.username, password: bad.credential, messages: 1, timeoutMs: 4000 });
    const text = await waitFor(() => { const t = fs.readFileSync(log, 'utf8'); return /mallory.*401/.test(t) ? t : ''; }, 5000, 'a 401 for the placeholder-secret credentials');
    expect(text).toMatch(/mallory.*401/);
    expect(text.split('ALLOCATE processed, success').length).toBe(before);
  }, 30000);

  test('the compose health check command answers for this server', () => {
    const r = spawnSync('sh', ['-c', `timeout 5 turnutils_stunclient -p ${port} 127.0.0.1 > /dev/null || exit 1`]);
    expect(r.status).toBe(0);
  });

  test('denies this host\'s PUBLIC_IP as a relay peer and TCP relays; TURN_ALLOWED_PEER_IPS are the exceptions', () => {
    const gen = (env: Record<string, string>) => {
      const out = path.join(tmp, `peers-${Object.keys(env).join('-')}.conf`);
      const r = spawnSync('sh', [path.join(repo, 'deploy', 'coturn-entrypoint.sh')], {
        env: { PATH: process.env.PATH, COTURN_CONF_SRC: path.join(repo, 'turn', 'coturn', 'turnserver.prod.conf'), COTURN_CONF_OUT: out, TURNSERVER: '/bin/true', TURN_SECRET: SECRET, ...env },
        encoding: 'utf8',
      });
      expect([r.status, r.stderr.replace(/.*no TLS certificate.*\n/, '')]).toEqual([0, '']);
      return fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    };
    const plain = gen({});
    expect(plain).toContain('no-tcp-relay');
    expect(plain).toContain('denied-peer-ip=10.0.0.0-10.255.255.255');
    expect(plain.filter((l) => l.startsWith('allowed-peer-ip'))).toEqual([]);
    const pub = gen({ PUBLIC_IP: '203.0.113.10' });
    expect(pub).toEqual(expect.arrayContaining(['external-ip=203.0.113.10', 'denied-peer-ip=203.0.113.10']));
    expect(pub.filter((l) => l.startsWith('allowed-peer-ip'))).toEqual([]);
    const allowed = gen({ PUBLIC_IP: '203.0.113.10', TURN_ALLOWED_PEER_IPS: '203.0.113.10,10.0.0.5' });
    expect(allowed.filter((l) => l.startsWith('allowed-peer-ip'))).toEqual(['allowed-peer-ip=203.0.113.10', 'allowed-peer-ip=10.0.0.5']);
  });

  test('refuses to start without TURN_SECRET', () => {
    const r = spawnSync('sh', [path.join(repo, 'deploy', 'coturn-entrypoint.sh')], {
      env: { PATH: process.env.PATH, COTURN_CONF_SRC: path.join(repo, 'turn', 'coturn', 'turnserver.prod.conf'), COTURN_CONF_OUT: path.join(tmp, 'x.conf'), TURNSERVER: '/bin/true' },
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('TURN_SECRET');
  });
});

describe('deploy/kms-entrypoint.sh', () => {
  test('copies kurento/config into /etc/kurento and hands over to the image entrypoint', () => {
    const etc = path.join(tmp, 'etc-kurento');
    fs.mkdirSync(etc, { recursive: true });
    const next = path.join(tmp, 'next.sh');
    fs.writeFileSync(next, '#!/bin/sh\necho "next $*"\n', { mode: 0o755 });
    const r = spawnSync('bash', [path.join(repo, 'deploy', 'kms-entrypoint.sh'), 'arg1'], {
      env: { PATH: process.env.PATH, KMS_CONFIG_SRC: path.join(repo, 'kurento', 'config'), KMS_ETC_DIR: etc, KMS_ENTRYPOINT: next },
      encoding: 'utf8',
    });
    expect([r.status, r.stderr]).toEqual([0, expect.any(String)]);
    expect(r.stdout).toContain('next arg1');
    for (const f of fs.readdirSync(path.join(repo, 'kurento', 'config')).filter((n) => /\.conf\.(ini|json)$/.test(n))) {
      const dest = f === 'kurento.conf.json' ? path.join(etc, f) : path.join(etc, 'modules', 'kurento', f);
      expect([f, fs.readFileSync(dest, 'utf8')]).toEqual([f, fs.readFileSync(path.join(repo, 'kurento', 'config', f), 'utf8')]);
    }
    // The copies are ordinary files the image's entrypoint can edit in place (sed -i).
    const ini = path.join(etc, 'modules', 'kurento', 'BaseRtpEndpoint.conf.ini');
    expect(spawnSync('sed', ['-i', 's/^minPort=.*/minPort=41000/', ini]).status).toBe(0);
    expect(fs.readFileSync(ini, 'utf8')).toMatch(/^minPort=41000$/m);
  });
});

describe('deploy/turn-monitor.sh', () => {
  test('mints a short-lived turn-sidecar token from JWT_SECRET that the service accepts', () => {
    const r = spawnSync('sh', [path.join(repo, 'deploy', 'turn-monitor.sh'), '--mint-token'], {
      cwd: repo, env: { PATH: process.env.PATH, JWT_SECRET: 's3cret-for-test', JWT_ISSUER: 'busking-test' }, encoding: 'utf8',
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const verifier = new TokenVerifier({ secret: 's3cret-for-test', publicKey: '', algorithm: 'HS256', issuer: 'busking-test', audience: '' });
    const p = verifier.verify(r.stdout);
    expect(p.roles).toEqual(['turn-sidecar']);
    expect(p.id).toBe('turn-monitor');
    // An hour, renewed by the script every half hour (issue 17 item 10: it was 365 days of ops).
    const claims = JSON.parse(Buffer.from(r.stdout.split('.')[1], 'base64url').toString()) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(3600);
    expect(() => new TokenVerifier({ secret: 'other', publicKey: '', algorithm: 'HS256', issuer: '', audience: '' }).verify(r.stdout)).toThrow();
  });

  test('refuses to run without a way to authenticate', () => {
    const r = spawnSync('sh', [path.join(repo, 'deploy', 'turn-monitor.sh')], {
      cwd: repo, env: { PATH: process.env.PATH, TURN_LOG: '/nonexistent', TURN_SIDECAR_BROKER: '127.0.0.1:1' }, encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('JWT_SECRET');
  });
});
