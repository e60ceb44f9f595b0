// Issue 17 item 10: tokens without `exp` were accepted and never expired, and the TURN sidecar
// carried a 365-day ops token. Now `exp` is required and a lifetime is capped by JWT_MAX_TTL_S; the
// sidecar has its own role, turn-sidecar, which may SEND TURN events and nothing else, and it reads
// its (short-lived, renewed) token again at every reconnect.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../src/config';
import { TokenVerifier, makeAuthenticator, permissions } from '../../src/auth';
import { stompPermissions } from '../../src/service';
import { AuthError } from '../../src/stomp';
import { registerTurnEventRelay, TURN_EVENTS_APP_DESTINATION, TURN_EVENTS_TOPIC } from '../../../turn/src/relay';
import { StompPublisher } from '../../../turn/src/publisher';
import { tokenFileReader } from '../../../turn/src/sidecar';
import { startBroker, Running, connectedTcp, frame, waitFor } from '../stomp/helpers';

const SECRET = 'token-lifetime-test-secret-0123456789';
const nowS = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>) => jwt.sign(claims, SECRET, { algorithm: 'HS256' });

describe('token lifetime', () => {
  const verifier = new TokenVerifier(loadConfig({ JWT_SECRET: SECRET }).jwt);

  test('a token without exp is refused', () => {
    expect(() => verifier.verify(sign({ sub: 'forever', roles: ['ops'] }))).toThrow(new AuthError('token has no exp'));
  });

  test('the default maximum is a day: a 365-day token is refused, a 12-hour one accepted', () => {
    expect(() => verifier.verify(sign({ sub: 'year', iat: nowS(), exp: nowS() + 365 * 86400 }))).toThrow(/JWT_MAX_TTL_S/);
    expect(verifier.verify(sign({ sub: 'shift', iat: nowS(), exp: nowS() + 12 * 3600 })).id).toBe('shift');
  });

  test('JWT_MAX_TTL_S sets the maximum, counted from iat and, without one, from now', () => {
    const short = new TokenVerifier(loadConfig({ JWT_SECRET: SECRET, JWT_MAX_TTL_S: '600' }).jwt);
    expect(short.verify(sign({ sub: 'a', iat: nowS(), exp: nowS() + 300 })).id).toBe('a');
    expect(() => short.verify(sign({ sub: 'b', iat: nowS(), exp: nowS() + 3600 }))).toThrow(/JWT_MAX_TTL_S/);
    expect(() => short.verify(sign({ sub: 'c', exp: nowS() + 3600 }))).toThrow(/JWT_MAX_TTL_S/);
    // Issued long ago for a long time, with little left: still a long-lived token.
    expect(() => short.verify(sign({ sub: 'd', iat: nowS() - 7200, exp: nowS() + 60 }))).toThrow(/JWT_MAX_TTL_S/);
    // An iat in the future does not stretch the lifetime.
    expect(() => short.verify(sign({ sub: 'e', iat: nowS() + 3000, exp: nowS() + 3300 }))).toThrow(/JWT_MAX_TTL_S/);
  });
});

describe('role turn-sidecar', () => {
  const jwtCfg = loadConfig({ JWT_SECRET: SECRET }).jwt;
  // Minted with the production key, as deploy's turn-monitor entrypoint does.
  const issuer = { issue: (name: string, roles: string[], ttlS: number) => sign({ sub: name.replace(/ /g, '-'), name, roles, iat: nowS(), exp: nowS() + ttlS }) };
  let r: Running;
  const relayed: string[] = [];
  beforeAll(async () => {
    r = await startBroker({ authenticator: makeAuthenticator(new TokenVerifier(jwtCfg), { anonymousViewing: true }), permissions, onDenied: 'errors-queue' });
    registerTurnEventRelay(r.broker, { publish: (d, b, h) => { relayed.push(b); r.broker.publish(d, b, h); } });
  });
  afterAll(() => r.close());

  test('may SEND TURN events and nothing else, under every STOMP_RULES policy', async () => {
    const sidecar = { id: 'turn-monitor', name: 'turn-monitor', roles: ['turn-sidecar'], anonymous: false };
    for (const check of [permissions, stompPermissions('open')]) {
      expect(check(sidecar, 'send', TURN_EVENTS_APP_DESTINATION)).toBe(true);
      expect(check(sidecar, 'send', '/app/busk.x.chat')).toBe(false);
      expect(check(sidecar, 'send', '/app/busk.start')).toBe(false);
      expect(check(sidecar, 'subscribe', TURN_EVENTS_TOPIC)).toBe(false);
      expect(check(sidecar, 'subscribe', '/topic/busks')).toBe(false);
      expect(check(sidecar, 'subscribe', '/user/queue/errors')).toBe(true);
    }
  });

  test('over the broker: its events are relayed, its other frames refused', async () => {
    const c = await connectedTcp(r.tcpPort, { passcode: issuer.issue('turn-monitor', ['turn-sidecar'], 600) });
    c.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors', receipt: 'sub-errors' }));
    await c.next('RECEIPT');
    c.send(frame('SEND', { destination: TURN_EVENTS_APP_DESTINATION, receipt: 'ev', 'content-type': 'application/json' }, JSON.stringify({ source: 's', events: [{ type: 'session-started', user: 'u' }] })));
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('ev');
    expect(JSON.parse(relayed[0])).toMatchObject({ type: 'session-started', source: 's' });

    c.send(frame('SUBSCRIBE', { id: 't', destination: TURN_EVENTS_TOPIC }));
    const denied = await c.next('MESSAGE');
    expect(JSON.parse(denied.body.toString())).toMatchObject({ code: 'forbidden', destination: TURN_EVENTS_TOPIC });
    c.close();
  });

  test('the publisher reads a renewed token at every reconnect', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-token-'));
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, issuer.issue('sidecar one', ['turn-sidecar'], 600));
    const seen: string[] = [];
    const sessionOf = new Map<string, string>();
    r.broker.on('session-open', (s) => { if (s.principal) { seen.push(s.principal.id); sessionOf.set(s.principal.id, s.id); } });
    const pub = new StompPublisher<{ type: string }>({ host: '127.0.0.1', port: r.tcpPort, token: tokenFileReader(file), minBackoffMs: 10 });
    pub.start();
    try {
      await waitFor(() => seen.includes('sidecar-one'), 10000, 'first session');
      // The operator (or turn-monitor.sh) renews the file; the broker ends the old session, as it
      // does when a token expires; the next connection carries the new token.
      fs.writeFileSync(file, issuer.issue('sidecar two', ['turn-sidecar'], 600));
      r.broker.closeSession(sessionOf.get('sidecar-one')!, 'token expired');
      await waitFor(() => seen.includes('sidecar-two'), 10000, 'second session with the renewed token');
      pub.publish({ type: 'after-renewal' });
      await waitFor(() => relayed.some((b) => JSON.parse(b).type === 'after-renewal'), 10000, 'event after renewal');
    } finally {
      await pub.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a refused token (ERROR before CONNECTED) is a retry, not a crash of the sidecar', async () => {
    // stompit's own ERROR handler threw an unhandled 'error' for an ERROR frame with a text body.
    const expired = sign({ sub: 'old', roles: ['turn-sidecar'], iat: nowS() - 120, exp: nowS() - 60 });
    const pub = new StompPublisher<{ type: string }>({ host: '127.0.0.1', port: r.tcpPort, token: expired, minBackoffMs: 10 });
    pub.start();
    try {
      await waitFor(() => /unauthorized|expired/.test(pub.stats().lastError ?? ''), 10000, 'the refusal');
      expect(pub.stats().connected).toBe(false);
    } finally {
      await pub.stop();
    }
  });
});
