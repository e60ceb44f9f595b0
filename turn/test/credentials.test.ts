import crypto from 'node:crypto';
import { iceServers, parseSharedSecretUsername, turnCredentials } from '../src/credentials';

test("coturn's shared-secret scheme: <expiry>:<user>, base64 HMAC-SHA1 of the username", () => {
  const now = Date.parse('2026-02-10T09:00:00Z');
  const c = turnCredentials('s3cret', 'alice', 3600, now);
  expect(c.username).toBe(`${now / 1000 + 3600}:alice`);
  expect(c.credential).toBe(crypto.createHmac('sha1', 's3cret').update(c.username).digest('base64'));
  expect(parseSharedSecretUsername(c.username)).toEqual({ expiry: now / 1000 + 3600, user: 'alice' });
  // The user label cannot break the username format or coturn's <...> log fields.
  expect(turnCredentials('s', 'a:b <c>', 60, now).username).toBe(`${now / 1000 + 60}:a_b__c_`);
  expect(() => turnCredentials('', 'a', 60)).toThrow();
  expect(() => turnCredentials('s', 'a', 0)).toThrow();
});

test('iceServers: STUN as is, TURN with a fresh credential, no TURN without a secret', () => {
  const now = Date.parse('2026-02-10T09:00:00Z');
  const opts = { stunUrls: ['stun:stun.example.org:3478'], turnUrls: ['turn:t.example.org:3478?transport=udp', 'turns:t.example.org:5349'], secret: 'x', ttlSeconds: 600 };
  const s = iceServers(opts, 'guest-4821', now);
  expect(s).toEqual([
    { urls: ['stun:stun.example.org:3478'] },
    { urls: opts.turnUrls, username: `${now / 1000 + 600}:guest-4821`, credential: expect.any(String) },
  ]);
  expect(JSON.stringify(s)).not.toContain('"x"');
  expect(iceServers({ ...opts, secret: '' }, 'u', now)).toEqual([{ urls: ['stun:stun.example.org:3478'] }]);
  expect(iceServers({ ...opts, stunUrls: [], turnUrls: [] }, 'u', now)).toEqual([]);
});
