// Issue 17 item 3: the development token issuer could switch on in production (DEV_TOKENS=auto looked
// only at KMS_URLS and the JWT key, and the image binds 0.0.0.0 with NODE_ENV=production), and
// DEV_TOKENS=true signed with the production secret. Now auto never turns it on off loopback or in
// production, `true` there needs DEV_TOKENS_ALLOW_PUBLIC (logged as a warning), and dev tokens have
// their own key: neither kind of token passes for the other.
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../src/config';
import { DEV_TOKEN_KID, DevTokenIssuer, TokenVerifier, AuthError } from '../../src/auth';
import { startService } from '../../src/service';
import { TEST_SECRET } from '../support/service';

const SECRET = 'production-secret-'.padEnd(40, 'p');

describe('when development tokens are on', () => {
  test('auto: on in the embedded setup on loopback, as `npm start` runs it', () => {
    expect(loadConfig({}).devTokens).toBe(true);
    expect(loadConfig({ HOST: 'localhost' }).devTokens).toBe(true);
    expect(loadConfig({ HOST: '::1' }).devTokens).toBe(true);
  });

  test('auto: off on a public bind, whatever else is (not) configured', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).devTokens).toBe(false);
    expect(loadConfig({ HOST: '::' }).devTokens).toBe(false);
    expect(loadConfig({ HOST: '192.0.2.10' }).devTokens).toBe(false);
  });

  test('auto: off with NODE_ENV=production, even on loopback', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).devTokens).toBe(false);
  });

  test('the image alone (NODE_ENV=production, HOST=0.0.0.0, nothing else) issues no dev token and refuses to start without a key', () => {
    const cfg = loadConfig({ NODE_ENV: 'production', HOST: '0.0.0.0' });
    expect(cfg.devTokens).toBe(false);
    expect(() => new TokenVerifier(cfg.jwt)).toThrow(/JWT_SECRET/);
  });

  test('true on a public bind or in production refuses to start, naming the override', () => {
    expect(() => loadConfig({ DEV_TOKENS: 'true', HOST: '0.0.0.0', JWT_SECRET: SECRET })).toThrow(/DEV_TOKENS_ALLOW_PUBLIC/);
    expect(() => loadConfig({ DEV_TOKENS: 'true', NODE_ENV: 'production', JWT_SECRET: SECRET })).toThrow(/NODE_ENV=production/);
    expect(loadConfig({ DEV_TOKENS: 'true', HOST: '127.0.0.1', JWT_SECRET: SECRET }).devTokensPublic).toBe(false);
  });

  test('the override lets it start, and the service says so loudly', async () => {
    const cfg = loadConfig({ DEV_TOKENS: 'true', DEV_TOKENS_ALLOW_PUBLIC: 'true', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', JWT_SECRET: SECRET, LOG_LEVEL: 'warn' });
    expect(cfg.devTokens).toBe(true);
    expect(cfg.devTokensPublic).toBe(true);
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    try {
      const svc = await startService(cfg);
      await svc.close();
    } finally {
      spy.mockRestore();
    }
    const warnings = written.join('').split('\n').filter((l) => l.startsWith('{"time"')).map((l) => JSON.parse(l)).filter((e) => e.level === 'warn');
    expect(warnings).toContainEqual(expect.objectContaining({ scope: 'auth', msg: expect.stringMatching(/^DEV_TOKENS_ALLOW_PUBLIC: development tokens are ON/) }));
  });
});

describe('dev tokens have their own key', () => {
  const devOn = loadConfig({ JWT_SECRET: SECRET, DEV_TOKENS: 'true' }).jwt;
  const devOff = loadConfig({ JWT_SECRET: SECRET, DEV_TOKENS: 'false' }).jwt;
  const devToken = new DevTokenIssuer(devOn).issue('Mallory', ['ops', 'busker']);

  test('a dev token is not signed with the production secret', () => {
    expect(devOn.devSecret).toBeTruthy();
    expect(devOn.devSecret).not.toBe(SECRET);
    expect(jwt.decode(devToken, { complete: true })?.header.kid).toBe(DEV_TOKEN_KID);
    expect(() => jwt.verify(devToken, SECRET, { algorithms: ['HS256'] })).toThrow(/signature/);
  });

  test('a dev token is accepted while dev tokens are on, refused where they are off (same production secret)', () => {
    expect(new TokenVerifier(devOn).verify(devToken)).toMatchObject({ id: 'dev-mallory', roles: ['ops', 'busker'] });
    expect(() => new TokenVerifier(devOff).verify(devToken)).toThrow(AuthError);
    expect(() => new TokenVerifier(devOff).verify(devToken)).toThrow(/development tokens are off/);
  });

  test('a production token still verifies with dev tokens on, but not dressed as a dev token', () => {
    const prod = jwt.sign({ sub: 'ann', roles: ['busker'] }, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    expect(new TokenVerifier(devOn).verify(prod).id).toBe('ann');
    const dressed = jwt.sign({ sub: 'ann', roles: ['ops'] }, SECRET, { algorithm: 'HS256', expiresIn: 60, keyid: DEV_TOKEN_KID });
    expect(() => new TokenVerifier(devOn).verify(dressed)).toThrow(/signature/);
  });

  test('a token signed with the dev key but without the dev kid is not a production token', () => {
    const forged = jwt.sign({ sub: 'ann', roles: ['ops'] }, devOn.devSecret as string, { algorithm: 'HS256', expiresIn: 60 });
    expect(() => new TokenVerifier(devOn).verify(forged)).toThrow(/signature/);
  });

  test('nodes sharing JWT_SECRET share the dev key (two-node tests); without a secret it is random per process', () => {
    expect(loadConfig({ JWT_SECRET: TEST_SECRET, DEV_TOKENS: 'true' }).jwt.devSecret).toBe(loadConfig({ JWT_SECRET: TEST_SECRET, DEV_TOKENS: 'true' }).jwt.devSecret);
    const a = loadConfig({}).jwt;
    const b = loadConfig({}).jwt;
    expect(a.devSecret).not.toBe(b.devSecret);
    const fromA = new DevTokenIssuer(a).issue('Ann', ['busker']);
    expect(() => new TokenVerifier(b).verify(fromA)).toThrow(AuthError);
    // No production key at all in the embedded setup: only dev tokens pass.
    expect(() => new TokenVerifier(a).verify(jwt.sign({ sub: 'x' }, 'anything', { algorithm: 'HS256' }))).toThrow(/no JWT key/);
  });
});
