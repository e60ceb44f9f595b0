// STOMP_RULES: the operator picks the broker's permission rule set (docs/PROTOCOL.md, "Broker
// semantics"). With `open` a plain stompjs client uses the service as a general STOMP broker.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Client, IMessage } from '@stomp/stompjs';
import { waitFor } from '../../../test-support/ports';
import { startTestService, devToken } from '../support/service';
import { stompPermissions } from '../../src/service';
import type { Service } from '../../src/service';

jest.setTimeout(60000);

const services: Service[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.deactivate()));
  for (const s of services.splice(0)) await s.close();
});

async function service(rules: string): Promise<Service> {
  const s = await startTestService({ STOMP_RULES: rules });
  services.push(s);
  return s;
}

/** A plain @stomp/stompjs client, nothing of the busking test support. */
function plain(svc: Service, token?: string): Promise<{ c: Client; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const errors: string[] = [];
    const c = new Client({
      webSocketFactory: () => new WebSocket(svc.stompUrl, ['v12.stomp']),
      connectHeaders: token ? { passcode: token } : {},
      reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0,
      onConnect: () => {
        c.subscribe('/user/queue/errors', (m) => errors.push(m.body));
        resolve({ c, errors });
      },
      onStompError: (f) => reject(new Error(f.headers.message)),
    });
    clients.push(c);
    c.activate();
  });
}

function subscribed(c: Client, destination: string, got: string[]): Promise<void> {
  const receipt = `r-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    c.watchForReceipt(receipt, () => resolve());
    c.subscribe(destination, (m: IMessage) => got.push(m.body), { receipt });
  });
}

test('STOMP_RULES=open: SEND to /topic/x fans out, SEND to /queue/y reaches one consumer', async () => {
  const svc = await service('open');
  const a = await plain(svc);
  const b = await plain(svc);
  const sender = await plain(svc);
  const ta: string[] = [];
  const tb: string[] = [];
  const qa: string[] = [];
  const qb: string[] = [];
  await subscribed(a.c, '/topic/x', ta);
  await subscribed(b.c, '/topic/x', tb);
  await subscribed(a.c, '/queue/y', qa);
  await subscribed(b.c, '/queue/y', qb);
  sender.c.publish({ destination: '/topic/x', body: 'to everyone' });
  for (let i = 0; i < 4; i++) sender.c.publish({ destination: '/queue/y', body: `job ${i}` });
  await waitFor(() => ta.length === 1 && tb.length === 1 && qa.length + qb.length === 4, 10000, 'messages');
  expect(ta).toEqual(['to everyone']);
  expect(tb).toEqual(['to everyone']);
  expect([...qa, ...qb].sort()).toEqual(['job 0', 'job 1', 'job 2', 'job 3']);
  expect(qa.length).toBeGreaterThan(0); // round-robin over both consumers
  expect(qb.length).toBeGreaterThan(0);
  expect([...a.errors, ...b.errors, ...sender.errors]).toEqual([]);
});

test('STOMP_RULES=open still keeps /topic/ops.** for role ops', async () => {
  const svc = await service('open');
  const guest = await plain(svc);
  const got: string[] = [];
  guest.c.subscribe('/topic/ops.turn', (m) => got.push(m.body));
  guest.c.publish({ destination: '/topic/ops.turn', body: '{"type":"forged"}' });
  await waitFor(() => guest.errors.length >= 2, 10000, 'two refusals');
  expect(guest.errors.map((e) => JSON.parse(e).code)).toEqual(['forbidden', 'forbidden']);
  const ops = await plain(svc, await devToken(svc, 'op', ['ops']));
  const opsGot: string[] = [];
  await subscribed(ops.c, '/topic/ops.turn', opsGot);
  expect(ops.errors).toEqual([]);
  expect(got).toEqual([]);
});

test('STOMP_RULES=default (and unset): SEND only to /app; SEND to /topic/x is refused', async () => {
  const svc = await service('default');
  const a = await plain(svc);
  const got: string[] = [];
  await subscribed(a.c, '/topic/x', got);
  a.c.publish({ destination: '/topic/x', body: 'nope' });
  await waitFor(() => a.errors.length === 1, 10000, 'refusal');
  expect(JSON.parse(a.errors[0])).toMatchObject({ code: 'forbidden', destination: '/topic/x' });
  expect(got).toEqual([]);
  expect(stompPermissions('')(null, 'send', '/topic/x')).toBe(false);
});

test('STOMP_RULES=<file>: a JSON rules file is the policy; an invalid file stops the start', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
  try {
    const file = path.join(dir, 'rules.json');
    fs.writeFileSync(file, JSON.stringify({ rules: [
      { pattern: '/topic/room.*', allow: ['send', 'subscribe'], authenticated: true },
      { pattern: '/topic/**', allow: ['subscribe'] },
      { pattern: '/user/**', allow: ['subscribe'] },
    ] }));
    const svc = await service(file);
    const member = await plain(svc, await devToken(svc, 'member'));
    const guest = await plain(svc);
    const got: string[] = [];
    await subscribed(member.c, '/topic/room.a', got);
    member.c.publish({ destination: '/topic/room.a', body: 'hello room' });
    guest.c.publish({ destination: '/topic/room.a', body: 'guest' });
    await waitFor(() => got.length === 1 && guest.errors.length === 1, 10000, 'member message and guest refusal');
    expect(got).toEqual(['hello room']);
    expect(JSON.parse(guest.errors[0]).code).toBe('forbidden');

    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify([{ pattern: '/topic/**', allow: ['publish'] }]));
    await expect(startTestService({ STOMP_RULES: bad })).rejects.toThrow(/STOMP_RULES .*rule 0: allow/);
    await expect(startTestService({ STOMP_RULES: path.join(dir, 'missing.json') })).rejects.toThrow(/STOMP_RULES/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
