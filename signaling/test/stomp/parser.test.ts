import { FrameParser, Frame, FrameError, serializeFrame, DEFAULT_PARSER_LIMITS, ParserLimits } from '../../src/stomp';
import { escapeHeader, unescapeHeader } from '../../src/stomp/escape';
import { prng } from './prng';

function parse(chunks: Array<string | Buffer>, limits: ParserLimits = DEFAULT_PARSER_LIMITS, mode: 'none' | 'v11' | 'v12' = 'v12') {
  const frames: Frame[] = [];
  let beats = 0;
  const p = new FrameParser(limits, (f) => frames.push(f), () => beats++);
  p.escapeMode = mode;
  for (const c of chunks) p.push(typeof c === 'string' ? Buffer.from(c, 'binary') : c);
  return { frames, beats, inFrame: p.inFrame };
}

function errorOf(chunks: Array<string | Buffer>, limits?: ParserLimits): FrameError {
  try {
    parse(chunks, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(FrameError);
    return e as FrameError;
  }
  throw new Error('no error');
}

describe('parser', () => {
  test('a frame with a NUL-terminated body', () => {
    const { frames } = parse(['SEND\ndestination:/topic/a\n\nhello\0']);
    expect(frames).toHaveLength(1);
    expect(frames[0].command).toBe('SEND');
    expect(frames[0].headers.destination).toBe('/topic/a');
    expect(frames[0].body.toString()).toBe('hello');
  });

  test('content-length bodies may contain NUL bytes', () => {
    const body = Buffer.from([1, 0, 2, 0, 0, 255]);
    const f = Buffer.concat([Buffer.from(`SEND\ndestination:/q\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]);
    const { frames } = parse([f]);
    expect(frames[0].body.equals(body)).toBe(true);
  });

  test('CRLF line endings and heart-beat EOLs between frames', () => {
    const { frames, beats } = parse(['\n\r\n', 'SEND\r\ndestination:/a\r\n\r\nx\0\n\r\nSEND\ndestination:/b\n\ny\0\n']);
    expect(frames.map((f) => f.headers.destination)).toEqual(['/a', '/b']);
    expect(frames[0].body.toString()).toBe('x');
    expect(beats).toBe(5);
  });

  test('many frames in one chunk and one frame split at every byte boundary', () => {
    const one = 'SEND\ndestination:/topic/x\ncontent-type:text/plain\ncontent-length:5\n\nab\0cd\0' + 'SEND\ndestination:/y\n\nhi\0';
    for (let cut = 1; cut < one.length; cut++) {
      const { frames } = parse([one.slice(0, cut), one.slice(cut)]);
      expect(frames).toHaveLength(2);
      expect(frames[0].body.toString('binary')).toBe('ab\0cd');
      expect(frames[1].body.toString()).toBe('hi');
    }
    const bytes = [...Buffer.from(one)].map((b) => Buffer.from([b]));
    expect(parse(bytes).frames).toHaveLength(2);
    expect(parse([one.repeat(50)]).frames).toHaveLength(100);
  });

  test('header escaping in 1.2; CONNECT is never unescaped; 1.0 never', () => {
    const { frames } = parse(['SEND\ndestination:/a\\cb\\\\c\\nd\\re\n\n\0', 'CONNECT\nlogin:a\\cb\n\n\0']);
    expect(frames[0].headers.destination).toBe('/a:b\\c\nd\re');
    expect(frames[1].headers.login).toBe('a\\cb');
    expect(parse(['SEND\nx:a\\cb\n\n\0'], DEFAULT_PARSER_LIMITS, 'none').frames[0].headers.x).toBe('a\\cb');
    expect(() => parse(['SEND\nx:a\\r\n\n\0'], DEFAULT_PARSER_LIMITS, 'v11')).toThrow(FrameError);
  });

  test('the first of repeated headers wins; values may contain colons', () => {
    const { frames } = parse(['SEND\nfoo:1\nfoo:2\nurl:a:b\n\n\0'], DEFAULT_PARSER_LIMITS, 'none');
    expect(frames[0].headers.foo).toBe('1');
    expect(frames[0].headers.url).toBe('a:b');
  });

  test('a __proto__ header stays a header', () => {
    const { frames } = parse(['SEND\n__proto__:x\n\n\0']);
    expect(frames[0].headers['__proto__']).toBe('x');
    expect(Object.getPrototypeOf(frames[0].headers)).toBeNull();
  });

  test('typed errors for every violation and limit', () => {
    const small = { maxFrameBytes: 100, maxHeaders: 3, maxHeaderLineBytes: 20 };
    expect(errorOf(['SEND\nx:' + 'a'.repeat(200)], small).code).toBe('frame-too-large');
    expect(errorOf(['SEND\ncontent-length:500\n\n'], small).code).toBe('frame-too-large');
    expect(errorOf(['SEND\na:1\nb:2\nc:3\nd:4\n\n\0'], small).code).toBe('too-many-headers');
    expect(errorOf(['SEND\nx:' + 'a'.repeat(30) + '\n'], small).code).toBe('header-too-long');
    expect(errorOf(['SEND\nnocolon\n\n\0']).code).toBe('malformed-header');
    expect(errorOf(['SEND\n:novalue\n\n\0']).code).toBe('malformed-header');
    expect(errorOf(['SEND\nx:\\t\n\n\0']).code).toBe('bad-escape');
    expect(errorOf(['SEND\ncontent-length:-1\n\n\0']).code).toBe('bad-content-length');
    expect(errorOf(['SEND\ncontent-length:abc\n\n\0']).code).toBe('bad-content-length');
    expect(errorOf(['SEND\ncontent-length:2\n\nabc\0']).code).toBe('missing-null');
  });

  test('a partial frame is visible (for the frame timeout)', () => {
    expect(parse(['SEND\ndest']).inFrame).toBe(true);
    expect(parse(['SEND\n\n\0']).inFrame).toBe(false);
    expect(parse(['\n\n']).inFrame).toBe(false);
  });

  test('serializer and parser agree (escaping round trip)', () => {
    const v = 'a:b\\c\nd\re';
    const buf = serializeFrame('MESSAGE', { destination: v, 'x-y': 'z' }, Buffer.from([0, 1, 2]), 'v12');
    const { frames } = parse([buf]);
    expect(frames[0].headers.destination).toBe(v);
    expect(frames[0].headers['content-length']).toBe('3');
    expect([...frames[0].body]).toEqual([0, 1, 2]);
    expect(unescapeHeader(escapeHeader(v, 'v12'), 'v12')).toBe(v);
  });

  test('fuzz: random and mutated input only ever yields frames or FrameErrors', () => {
    const rnd = prng(12345);
    const valid = [
      'SEND\ndestination:/topic/a\ncontent-length:3\n\na\0b\0',
      'SUBSCRIBE\nid:1\ndestination:/queue/x\nack:client\n\n\0',
      'CONNECT\naccept-version:1.2\nheart-beat:10,10\n\n\0',
      'ACK\nid:7\n\n\0\n\n',
      'SEND\ndestination:/a\\c\n\nbody\0',
    ];
    const deadline = Date.now() + 1500;
    let runs = 0;
    while (runs < 20000 && Date.now() < deadline) {
      runs++;
      let input: Buffer;
      if (rnd() < 0.3) {
        input = Buffer.alloc(Math.floor(rnd() * 200));
        for (let i = 0; i < input.length; i++) input[i] = Math.floor(rnd() * 256);
      } else {
        input = Buffer.from(valid[Math.floor(rnd() * valid.length)].repeat(1 + Math.floor(rnd() * 3)), 'binary');
        const edits = 1 + Math.floor(rnd() * 4);
        for (let e = 0; e < edits; e++) {
          const pos = Math.floor(rnd() * input.length);
          const r = rnd();
          const pick = [0, 10, 13, 58, 92, 48 + Math.floor(rnd() * 10), Math.floor(rnd() * 256)][Math.floor(rnd() * 7)];
          if (r < 0.4) input[pos] = pick;
          else if (r < 0.7) input = Buffer.concat([input.subarray(0, pos), Buffer.from([pick]), input.subarray(pos)]);
          else input = Buffer.concat([input.subarray(0, pos), input.subarray(pos + 1)]);
        }
      }
      const limits = { maxFrameBytes: 256, maxHeaders: 8, maxHeaderLineBytes: 64 };
      const p = new FrameParser(limits, (f) => {
        expect(typeof f.command).toBe('string');
        expect(Buffer.isBuffer(f.body)).toBe(true);
      });
      try {
        // Random split points, too.
        let i = 0;
        while (i < input.length) {
          const n = 1 + Math.floor(rnd() * 40);
          p.push(input.subarray(i, i + n));
          i += n;
        }
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
      }
    }
    expect(runs).toBeGreaterThan(100);
  });
});
