// The follower on plain files, driven one poll at a time so each rotation happens exactly where
// the test wants it: rename+create and copytruncate while lines are still unread, coturn's dated
// file names, and stdin.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { LogFollower, RotateInfo } from '../src/follower';
import { coturnDatedPattern, resolveLogFile } from '../src/log-files';
import { waitFor } from '../../test-support/ports';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function collect(f: LogFollower) {
  const lines: string[] = [];
  const rotations: RotateInfo[] = [];
  f.on('line', (l) => lines.push(l));
  f.on('rotate', (r) => rotations.push(r));
  return { lines, rotations };
}
const nums = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);
const write = (p: string, ls: string[]) => fs.appendFileSync(p, ls.map((l) => l + '\n').join(''));

test('rename + create: the old file is read to its end before switching', async () => {
  const p = path.join(dir, 'turn.log');
  write(p, nums(1, 3));
  const f = new LogFollower(p);
  const { lines, rotations } = collect(f);
  await f.poll();
  expect(lines).toEqual(nums(1, 3));
  write(p, nums(4, 6)); // written, not read yet
  fs.renameSync(p, p + '.1');
  fs.appendFileSync(p + '.1', 'line 7\n'); // coturn still writing to the renamed file until SIGHUP
  await f.poll(); // the target is gone: keep reading the old file
  write(p, nums(8, 9));
  await f.poll();
  expect(lines).toEqual(nums(1, 9));
  expect(rotations).toEqual([{ from: p, to: p, reason: 'renamed' }]);
  await f.stop();
});

test('copytruncate: what was not read yet comes from the copy', async () => {
  const p = path.join(dir, 'turn.log');
  write(p, nums(1, 2));
  const f = new LogFollower(p);
  const { lines, rotations } = collect(f);
  await f.poll();
  write(p, nums(3, 5));
  fs.copyFileSync(p, p + '.1');
  fs.truncateSync(p, 0);
  write(p, ['x']); // shorter than what we had read: a truncation is visible
  await f.poll();
  expect(lines).toEqual([...nums(1, 5), 'x']);
  expect(rotations.map((r) => r.reason)).toEqual(['truncated']);
  await f.stop();
});

test('a partial last line is completed, not split', async () => {
  const p = path.join(dir, 'turn.log');
  fs.writeFileSync(p, 'line 1\nline');
  const f = new LogFollower(p);
  const { lines } = collect(f);
  await f.poll();
  expect(lines).toEqual(['line 1']);
  fs.appendFileSync(p, ' 2\n');
  await f.poll();
  expect(lines).toEqual(['line 1', 'line 2']);
  await f.stop();
});

test("coturn's dated names: log-file=turn.log means turn_<date>.log; a newer day's file takes over", async () => {
  const setting = path.join(dir, 'turn.log');
  expect(coturnDatedPattern(setting)).toBe(path.join(dir, 'turn_*.log'));
  expect(coturnDatedPattern(path.join(dir, 'turn_'))).toBe(path.join(dir, 'turn_*.log'));
  const day1 = path.join(dir, 'turn_2026-02-10.log');
  write(day1, nums(1, 2));
  fs.utimesSync(day1, new Date(Date.now() - 60000), new Date(Date.now() - 60000));
  expect(resolveLogFile(setting)).toBe(day1);
  const f = new LogFollower(setting);
  const { lines, rotations } = collect(f);
  await f.poll();
  write(day1, ['line 3']); // last lines of the day, unread when the next day's file appears
  const day2 = path.join(dir, 'turn_2026-02-11.log');
  write(day2, ['line 4']);
  fs.utimesSync(day1, new Date(Date.now() - 30000), new Date(Date.now() - 30000));
  await f.poll();
  expect(lines).toEqual(nums(1, 4));
  expect(rotations).toEqual([{ from: day1, to: day2, reason: 'new-file' }]);
  // A glob works the same way (Debian's default name: turn_<pid>_<date>.log).
  expect(resolveLogFile(path.join(dir, 'turn_*.log'))).toBe(day2);
  await f.stop();
});

test('fromStart false starts at the end of the first file only', async () => {
  const p = path.join(dir, 'turn.log');
  write(p, nums(1, 3));
  const f = new LogFollower(p, { fromStart: false });
  const { lines } = collect(f);
  await f.poll();
  write(p, ['line 4']);
  await f.poll();
  fs.renameSync(p, p + '.1');
  write(p, ['line 5']);
  await f.poll();
  expect(lines).toEqual(['line 4', 'line 5']);
  await f.stop();
});

test('a file that does not exist yet is picked up when it appears (start() loop)', async () => {
  const p = path.join(dir, 'later.log');
  const f = new LogFollower(p, { pollMs: 20 }).start();
  const { lines } = collect(f);
  await new Promise((r) => setTimeout(r, 60));
  write(p, ['hello']);
  await waitFor(() => lines.length === 1, 5000, 'the line');
  await f.stop();
});

test("'-' reads a stream (stdin) line by line", async () => {
  const stream = new PassThrough();
  const f = new LogFollower('-', { stream }).start();
  const { lines } = collect(f);
  const ended = new Promise((r) => f.once('end', r));
  stream.write('Feb 10 09:11:45 h turnserver[1]: 1: : a\r\nb\n\nc');
  stream.end('\n');
  await ended;
  expect(lines).toEqual(['Feb 10 09:11:45 h turnserver[1]: 1: : a', 'b', 'c']);
  await f.stop();
});
