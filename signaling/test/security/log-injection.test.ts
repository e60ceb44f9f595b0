// Issue 17 item 9: busk titles kept "\n" and were logged raw, so a title could forge a log line. Now
// titles and chat lose every control character at validation (a description keeps its newlines),
// and the log is one JSON object per line, so whatever text reaches it stays inside its own line.
import { parseChat, parseStart } from '../../src/busk/validate';
import { formatLine } from '../../src/log';
import { startTestService, devToken, connect } from '../support/service';

const FORGED = 'Jazz\n{"level":"error","scope":"auth","msg":"ops login"}\r\nERROR [auth] forged';

describe('control characters are stripped at validation', () => {
  test('a title loses newlines, carriage returns, C1 controls, line separators and bidi overrides', () => {
    const { title } = parseStart({ title: `${FORGED}\u0085x\u2028y\u202e\u0007` });
    expect(title).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    expect(title.startsWith('Jazz{"level"')).toBe(true);
  });

  test('chat text is one line too', () => {
    expect(parseChat({ text: 'hi\nERROR forged\r' }, 100)).toBe('hiERROR forged');
  });

  test('a description keeps its paragraphs, not the rest', () => {
    expect(parseStart({ title: 't', description: 'line one\nline two\r\u2028\u0000' }).description).toBe('line one\nline two');
  });
});

describe('the log is one JSON object per line', () => {
  test('newlines and control characters in a message or its detail stay inside the line', () => {
    const line = formatLine('info', 'busk', `started b1 "${FORGED}"`, { title: FORGED });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(JSON.parse(line)).toMatchObject({ level: 'info', scope: 'busk', msg: `started b1 "${FORGED}"`, extra: { title: FORGED } });
  });

  test('an error detail is its stack; data that cannot be JSON is its text', () => {
    expect(JSON.parse(formatLine('error', 'x', 'failed', new Error('boom\nforged'))).extra).toMatch(/^Error: boom\nforged/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(JSON.parse(formatLine('warn', 'x', 'odd', cyclic)).extra).toBe('[object Object]');
  });

  test('a busk started with a forged title: every line the service writes is one JSON object, none forged', async () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { written.push(String(chunk)); return true; });
    const svc = await startTestService({ LOG_LEVEL: 'info' });
    try {
      const busker = await connect(svc, await devToken(svc, 'Mallory', ['busker']));
      const q = await busker.subscribeSync('/user/queue/busk');
      expect(await busker.request('/app/busk.start', { title: FORGED })).toBe('ok');
      await q.type('started');
      await busker.close();
    } finally {
      await svc.close();
      spy.mockRestore();
    }
    // (jest may print its own notices on stderr meanwhile: only our lines start with {"time")
    const lines = written.join('').split('\n').filter(Boolean);
    const ours = lines.filter((l) => l.startsWith('{"time"'));
    const entries = ours.map((l) => JSON.parse(l) as { level: string; scope: string; msg: string });
    const started = entries.find((e) => e.scope === 'busk' && e.msg.startsWith('started '));
    expect(started?.msg).toContain('Jazz{"level"');
    // The title's pieces never begin a line of their own.
    expect(lines.filter((l) => l.startsWith('{"level":"error"') || l.startsWith('ERROR [auth]'))).toEqual([]);
  });
});
