import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../src/config';
import { AuthError, DevTokenIssuer, TokenVerifier, makeAuthenticator, permissions, anonymousPrincipal } from '../src/auth';

const hsCfg = loadConfig({ JWT_SECRET: 'x'.repeat(32), DEV_TOKENS: 'true' }).jwt;

function b64(o: unknown) { return Buffer.from(JSON.stringify(o)).toString('base64url'); }

describe('TokenVerifier HS256', () => {
  const v = new TokenVerifier(hsCfg);
  it('accepts a good token and maps claims', () => {
    const t = jwt.sign({ sub: 'u1', name: 'Ann', roles: ['busker', 'admin'] }, hsCfg.secret, { algorithm: 'HS256', expiresIn: 60 });
    const p = v.verify(t);
    expect(p).toMatchObject({ id: 'u1', name: 'Ann', roles: ['busker'], anonymous: false });
    expect(p.expiresAt).toBeGreaterThan(Date.now());
  });
  it('rejects forged, expired, none, and wrong-algorithm tokens', () => {
    const forged = jwt.sign({ sub: 'u1' }, 'another secret', { algorithm: 'HS256' });
    expect(() => v.verify(forged)).toThrow(AuthError);
    const expired = jwt.sign({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 10 }, hsCfg.secret, { algorithm: 'HS256' });
    expect(() => v.verify(expired)).toThrow(/expired/);
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1', roles: ['ops'] })}.`;
    expect(() => v.verify(none)).toThrow(AuthError);
    const hs512 = jwt.sign({ sub: 'u1' }, hsCfg.secret, { algorithm: 'HS512' });
    expect(() => v.verify(hs512)).toThrow(/invalid algorithm/);
    expect(() => v.verify('garbage')).toThrow(AuthError);
    const nosub = jwt.sign({ name: 'x' }, hsCfg.secret, { algorithm: 'HS256' });
    expect(() => v.verify(nosub)).toThrow(/sub/);
  });
  it('checks issuer and audience when configured', () => {
    const cfg = loadConfig({ JWT_SECRET: 's'.repeat(32), JWT_ISSUER: 'me', JWT_AUDIENCE: 'busking' }).jwt;
    const vv = new TokenVerifier(cfg);
    expect(() => vv.verify(jwt.sign({ sub: 'a' }, cfg.secret, { algorithm: 'HS256' }))).toThrow(AuthError);
    expect(vv.verify(jwt.sign({ sub: 'a' }, cfg.secret, { algorithm: 'HS256', issuer: 'me', audience: 'busking', expiresIn: 60 })).id).toBe('a');
  });
});

describe('TokenVerifier RS256/ES256', () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const cfg = loadConfig({ JWT_PUBLIC_KEY: pem, DEV_TOKENS: 'false' }).jwt;
  const v = new TokenVerifier(cfg);
  it('accepts RS256 signed with the private key', () => {
    expect(v.verify(jwt.sign({ sub: 'r1', roles: ['ops'] }, privateKey, { algorithm: 'RS256', expiresIn: 60 })).roles).toEqual(['ops']);
  });
  it('rejects key confusion: HS256 signed with the public key as secret', () => {
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ sub: 'evil', roles: ['ops', 'busker'] });
    const sig = crypto.createHmac('sha256', pem).update(`${header}.${payload}`).digest('base64url');
    expect(() => v.verify(`${header}.${payload}.${sig}`)).toThrow(AuthError);
  });
  it('ES256 with an EC key', () => {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecCfg = loadConfig({ JWT_PUBLIC_KEY: ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(), JWT_ALGORITHM: 'ES256', DEV_TOKENS: 'false' }).jwt;
    const ev = new TokenVerifier(ecCfg);
    expect(ev.verify(jwt.sign({ sub: 'e1' }, ec.privateKey, { algorithm: 'ES256', expiresIn: 60 })).id).toBe('e1');
    expect(() => ev.verify(jwt.sign({ sub: 'e1' }, privateKey, { algorithm: 'RS256' }))).toThrow(AuthError);
  });
});

describe('STOMP authenticator and permissions', () => {
  const v = new TokenVerifier(hsCfg);
  const dev = new DevTokenIssuer(hsCfg);
  it('reads Bearer and passcode, anonymous when allowed', () => {
    const auth = makeAuthenticator(v, { anonymousViewing: true });
    const t = dev.issue('Bob Busker', ['busker']);
    expect(auth({ Authorization: `Bearer ${t}` })!.name).toBe('Bob Busker');
    expect(auth({ passcode: t })!.roles).toEqual(['busker']);
    const a = auth({})!;
    expect(a.anonymous).toBe(true);
    expect(a.name).toMatch(/^guest-\d{4}$/);
    expect(() => auth({ passcode: 'nope' })).toThrow(AuthError);
    expect(() => makeAuthenticator(v, { anonymousViewing: false })({})).toThrow(AuthError);
  });
  it('destination rules', () => {
    const ops = { id: 'o', name: 'o', roles: ['ops'], anonymous: false };
    const anon = anonymousPrincipal();
    expect(permissions(anon, 'send', '/app/busk.x.chat')).toBe(true);
    expect(permissions(ops, 'send', '/topic/busks')).toBe(false);
    expect(permissions(anon, 'subscribe', '/topic/busks')).toBe(true);
    expect(permissions(anon, 'subscribe', '/user/queue/errors')).toBe(true);
    expect(permissions(anon, 'subscribe', '/topic/ops.turn')).toBe(false);
    expect(permissions(null, 'subscribe', '/topic/ops.turn')).toBe(false);
    expect(permissions(ops, 'subscribe', '/topic/ops.turn')).toBe(true);
    expect(permissions(anon, 'subscribe', '/queue/x')).toBe(false);
  });
});
