// Performs the Dockerfile's build without Docker: parses the Dockerfile, copies the build context
// (`git ls-files` filtered by .dockerignore) into a temp directory, runs each stage's COPY and RUN
// steps there as plain commands, and returns how to start the runtime stage's CMD. No Docker engine
// runs in CI, so this is how the image's build and start steps are checked
// (deploy/test/dockerfile.test.ts).
//
//   bash deploy/build-steps.sh [--keep] [--npm-ci]     build, start the CMD, wait for /readyz, stop
//
// Each stage gets its own root directory (<tmp>/<stage>/); container paths map into it, so
// `WORKDIR /app` is <tmp>/build/app. `npm ci` is the slow step: by default (reuseNodeModules) it is
// replaced by a copy of the repository's installed node_modules when that install came from the same
// package-lock.json; `--npm-ci` (or BUILD_STEPS_NPM_CI=1) runs the real `npm ci --prefer-offline`.
import { execFileSync, spawn, spawnSync, ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { freePort } from '../test-support/ports';

export interface Instruction {
  keyword: string;        // upper case: FROM, RUN, COPY, ...
  args: string;           // the rest of the logical line, flags included
  flags: Record<string, string>;
  rest: string;           // args without leading --flags
  json: string[] | null;  // exec form (JSON array), when used
  line: number;           // 1-based line of the instruction
}

export interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
}

/** Parses a Dockerfile into stages. Handles `\` continuations, comments, parser directives, flags and the exec (JSON) form. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  const logical: { text: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (buf === '' && /^\s*#/.test(raw)) continue;          // comment (and parser directives)
    if (buf !== '' && /^\s*#/.test(raw)) continue;          // comment inside a continuation
    if (buf === '' && raw.trim() === '') continue;
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    buf += raw;
    logical.push({ text: buf.trim(), line: start });
    buf = '';
  }
  if (buf.trim()) logical.push({ text: buf.trim(), line: start });

  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(l);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const args = m[2].trim();
    const flags: Record<string, string> = {};
    let rest = args;
    for (;;) {
      const f = /^--([a-zA-Z-]+)(?:=(\S*))?\s+/.exec(rest);
      if (!f) break;
      flags[f[1]] = f[2] ?? 'true';
      rest = rest.slice(f[0].length);
    }
    let json: string[] | null = null;
    if (rest.startsWith('[')) {
      try {
        const parsed = JSON.parse(rest);
        if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) json = parsed;
      } catch { /* shell form after all */ }
    }
    const ins: Instruction = { keyword, args, flags, rest, json, line };
    if (keyword === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!fm) throw new Error(`Dockerfile line ${line}: cannot parse FROM ${rest}`);
      stages.push({ image: fm[1], name: fm[2] ?? String(stages.length), instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (keyword === 'ARG') continue; // global ARG before the first FROM
      throw new Error(`Dockerfile line ${line}: ${keyword} before FROM`);
    }
    stages[stages.length - 1].instructions.push(ins);
  }
  return { stages };
}

/** Splits a shell-form word list the way the Dockerfile COPY/ENV shell form does (whitespace, simple quotes). */
function words(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3]);
  return out;
}

/** ENV key=value pairs (both `ENV A=1 B=2` and the legacy `ENV A 1`). */
export function parseEnv(rest: string): Record<string, string> {
  const out: Record<string, string> = {};
  const first = /^\S+/.exec(rest)?.[0] ?? '';
  if (!first.includes('=')) {
    const m = /^(\S+)\s+(.*)$/.exec(rest);
    if (m) out[m[1]] = m[2];
    return out;
  }
  for (const w of words(rest)) {
    const i = w.indexOf('=');
    if (i > 0) out[w.slice(0, i)] = w.slice(i + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore

interface IgnoreRule { negate: boolean; re: RegExp }

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `**/` matches any number of directories (including none); a trailing `**` matches everything.
        if (pattern[i + 2] === '/') { re += '(?:.*/)?'; i += 2; } else { re += '.*'; i += 1; }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (let line of text.split(/\r?\n/)) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) { negate = true; line = line.slice(1).trim(); }
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    rules.push({ negate, re: globToRegExp(line) });
  }
  return rules;
}

/** Docker's rule: the last matching pattern wins; a pattern that matches a directory matches everything in it. */
export function isIgnored(rules: IgnoreRule[], file: string): boolean {
  const parts = file.split('/');
  const prefixes: string[] = [];
  for (let i = 1; i <= parts.length; i++) prefixes.push(parts.slice(0, i).join('/'));
  let ignored = false;
  for (const r of rules) {
    if (prefixes.some((p) => r.re.test(p))) ignored = !r.negate;
  }
  return ignored;
}

/**
 * Files of the build context: what git tracks (as in a fresh clone, with working-tree contents), less
 * .dockerignore. BUILD_STEPS_UNTRACKED=1 adds untracked, not ignored files (a check before committing).
 */
export function contextFiles(repo: string): string[] {
  const extra = process.env.BUILD_STEPS_UNTRACKED === '1' ? ['--others', '--exclude-standard'] : [];
  const out = execFileSync('git', ['ls-files', '-z', '--cached', ...extra], { cwd: repo, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const files = out.split('\0').filter(Boolean).filter((f) => fs.existsSync(path.join(repo, f)));
  const ignoreFile = path.join(repo, '.dockerignore');
  const rules = fs.existsSync(ignoreFile) ? parseDockerignore(fs.readFileSync(ignoreFile, 'utf8')) : [];
  return files.filter((f) => !isIgnored(rules, f));
}

// ---------------------------------------------------------------------------------------------
// Performing the build

export interface BuildOptions {
  repo: string;
  /** Where stage roots go; a fresh temp directory when omitted. */
  workDir?: string;
  /** Replace `npm ci` by a copy of the repository's node_modules (default true; BUILD_STEPS_NPM_CI=1 turns it off). */
  reuseNodeModules?: boolean;
  log?: (msg: string) => void;
  /** Per RUN step limit. */
  stepTimeoutMs?: number;
}

export interface RuntimeSpec {
  stage: string;
  root: string;              // the stage's root directory
  workdir: string;           // host path of the runtime WORKDIR
  env: Record<string, string>;
  user: string | null;
  cmd: string[];
  healthcheck: string[] | null;
  expose: string[];
}

export interface BuildResult {
  workDir: string;
  stageRoots: Record<string, string>;
  runtime: RuntimeSpec;
  steps: string[];           // what was done, in order
}

function copyRecursive(src: string, dest: string): void {
  const st = fs.lstatSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dest, { recursive: true });
    for (const e of fs.readdirSync(src)) copyRecursive(path.join(src, e), path.join(dest, e));
  } else if (st.isSymbolicLink()) {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.rmSync(dest, { force: true });
    fs.symlinkSync(fs.readlinkSync(src), dest);
  } else {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    fs.chmodSync(dest, st.mode & 0o7777);
  }
}

/** Copies a directory tree fast (cp -a), falling back to a Node copy. */
function copyTree(src: string, dest: string): void {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  if (fs.existsSync(dest)) return copyRecursive(src, dest); // cp -a would nest src inside dest
  const r = spawnSync('cp', ['-a', src, dest], { stdio: 'ignore' });
  if (r.status !== 0) copyRecursive(src, dest);
}

function mapPath(root: string, workdirInContainer: string, p: string): string {
  const abs = p.startsWith('/') ? p : path.posix.join(workdirInContainer, p);
  return path.join(root, abs);
}

function lockOf(dir: string): string | null {
  try { return fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'); } catch { return null; }
}

export function performBuild(opts: BuildOptions): BuildResult {
  const ownDir = !opts.workDir;
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'busking-image-'));
  try {
    return buildIn({ ...opts, workDir });
  } catch (e) {
    if (ownDir && process.env.BUILD_STEPS_KEEP !== '1') fs.rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
}

/** The absolute path of `program` on this machine's PATH, or a path that does not exist. */
function onPath(program: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, program);
    if (dir && fs.existsSync(p)) return fs.realpathSync(p);
  }
  return path.join('/nonexistent', program);
}

function buildIn(opts: BuildOptions & { workDir: string }): BuildResult {
  const log = opts.log ?? (() => {});
  const repo = path.resolve(opts.repo);
  const reuse = opts.reuseNodeModules ?? process.env.BUILD_STEPS_NPM_CI !== '1';
  const workDir = opts.workDir;
  const df = parseDockerfile(fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8'));
  const steps: string[] = [];

  // The build context, materialised once.
  const context = path.join(workDir, 'context');
  const files = contextFiles(repo);
  for (const f of files) copyRecursive(path.join(repo, f), path.join(context, f));
  steps.push(`context: ${files.length} files`);
  log(`context: ${files.length} files in ${context}`);

  const stageRoots: Record<string, string> = {};
  let runtime: RuntimeSpec | null = null;

  df.stages.forEach((stage, idx) => {
    const root = path.join(workDir, `stage-${stage.name}`);
    fs.mkdirSync(root, { recursive: true });
    stageRoots[stage.name] = root;
    stageRoots[String(idx)] = root;
    let wd = '/';
    let user: string | null = null;
    let cmd: string[] = [];
    let healthcheck: string[] | null = null;
    const expose: string[] = [];
    const env: Record<string, string> = {};

    for (const ins of stage.instructions) {
      switch (ins.keyword) {
        case 'WORKDIR': {
          wd = ins.rest.startsWith('/') ? ins.rest : path.posix.join(wd, ins.rest);
          fs.mkdirSync(path.join(root, wd), { recursive: true });
          break;
        }
        case 'ENV': Object.assign(env, parseEnv(ins.rest)); break;
        case 'ARG': break;
        case 'USER': user = ins.rest.trim(); break;
        case 'EXPOSE': expose.push(...words(ins.rest)); break;
        case 'LABEL': case 'STOPSIGNAL': case 'SHELL': case 'VOLUME': case 'ONBUILD': break;
        case 'CMD': cmd = ins.json ?? ['/bin/sh', '-c', ins.rest]; break;
        case 'ENTRYPOINT': throw new Error(`Dockerfile line ${ins.line}: ENTRYPOINT is not supported by build-steps (use CMD)`);
        case 'HEALTHCHECK': {
          const m = /(?:^|\s)CMD\s+(.*)$/s.exec(ins.rest);
          if (ins.rest.trim().toUpperCase() === 'NONE') healthcheck = null;
          else if (m) {
            const c = m[1].trim();
            try { healthcheck = c.startsWith('[') ? JSON.parse(c) : ['/bin/sh', '-c', c]; } catch { healthcheck = ['/bin/sh', '-c', c]; }
          }
          break;
        }
        case 'ADD': throw new Error(`Dockerfile line ${ins.line}: use COPY, not ADD`);
        case 'COPY': {
          const parts = ins.json ?? words(ins.rest);
          const dest = parts[parts.length - 1];
          const srcs = parts.slice(0, -1);
          const from = ins.flags.from;
          // A stage with no instructions is an image used only for its files (the static ffmpeg
          // build): without Docker nothing can pull it, so the same programs come from this
          // machine's PATH (the tests need them there anyway: scripts/setup.js TEST_PROGRAMS).
          const fileImage = from !== undefined && df.stages.find((st) => st.name === from)?.instructions.length === 0;
          const fromRoot = from !== undefined ? stageRoots[from] : context;
          if (!fromRoot) throw new Error(`Dockerfile line ${ins.line}: unknown stage ${from}`);
          const destPath = mapPath(root, wd, dest);
          for (const s of srcs) {
            if (/[*?[]/.test(s)) throw new Error(`Dockerfile line ${ins.line}: globs in COPY are not supported by build-steps`);
            const srcPath = fileImage ? onPath(path.basename(s))
              : from !== undefined ? path.join(fromRoot, s.startsWith('/') ? s : path.posix.join('/', s)) : path.join(context, s);
            if (!fs.existsSync(srcPath)) throw new Error(`Dockerfile line ${ins.line}: COPY source ${s} does not exist${from ? ` in stage ${from}` : ' in the build context'}`);
            const st = fs.statSync(srcPath);
            if (st.isDirectory()) {
              // COPY dir dest copies the directory's contents into dest.
              const target = destPath;
              fs.mkdirSync(target, { recursive: true });
              for (const e of fs.readdirSync(srcPath)) {
                const sp = path.join(srcPath, e);
                if (fs.statSync(sp).isDirectory()) copyTree(sp, path.join(target, e));
                else copyRecursive(sp, path.join(target, e));
              }
            } else {
              const target = dest.endsWith('/') || srcs.length > 1 ? path.join(destPath, path.basename(s)) : destPath;
              copyRecursive(srcPath, target);
            }
          }
          steps.push(`[${stage.name}] COPY ${ins.args}`);
          log(`[${stage.name}] COPY ${ins.args}`);
          break;
        }
        case 'RUN': {
          const command = ins.json ? ins.json.join(' ') : ins.rest;
          const cwd = path.join(root, wd);
          if (reuse && /^npm\s+ci(\s|$)/.test(command.trim())) {
            const repoLock = lockOf(repo);
            if (repoLock === null || lockOf(cwd) !== repoLock) throw new Error('npm ci reuse: the stage\'s package-lock.json differs from the repository\'s');
            if (!fs.existsSync(path.join(repo, 'node_modules', '.package-lock.json'))) throw new Error('npm ci reuse: the repository has no installed node_modules (run npm ci there, or BUILD_STEPS_NPM_CI=1)');
            copyTree(path.join(repo, 'node_modules'), path.join(cwd, 'node_modules'));
            steps.push(`[${stage.name}] RUN ${command}  (reused the repository's node_modules, installed from the same lock file)`);
            log(`[${stage.name}] RUN ${command}: copied the repository's node_modules instead`);
            break;
          }
          let effective = command;
          if (!reuse && /^npm\s+ci(\s|$)/.test(command.trim()) && !command.includes('--prefer-offline')) effective = `${command} --prefer-offline`;
          log(`[${stage.name}] RUN ${effective}`);
          const t0 = Date.now();
          const r = spawnSync('/bin/sh', ['-c', effective], {
            cwd,
            env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir(), ...env },
            encoding: 'utf8',
            maxBuffer: 256 * 1024 * 1024,
            timeout: opts.stepTimeoutMs ?? 5 * 60 * 1000,
          });
          if (r.status !== 0) {
            const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
            throw new Error(`Dockerfile line ${ins.line}: RUN ${effective} failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${out}`);
          }
          steps.push(`[${stage.name}] RUN ${effective}  (${Date.now() - t0} ms)`);
          break;
        }
        default:
          throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} is not supported by build-steps`);
      }
    }
    runtime = { stage: stage.name, root, workdir: path.join(root, wd), env, user, cmd, healthcheck, expose };
  });

  if (!runtime) throw new Error('Dockerfile has no stage');
  return { workDir, stageRoots, runtime, steps };
}

// ---------------------------------------------------------------------------------------------
// Starting the runtime stage

export interface Started {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts the runtime CMD in its WORKDIR with the image's ENV plus `env` (nothing else from this process but PATH and HOME). */
export function startRuntime(rt: RuntimeSpec, env: Record<string, string>): Started {
  if (rt.cmd.length === 0) throw new Error('runtime stage has no CMD');
  const [bin, ...args] = rt.cmd;
  let out = '';
  const proc = spawn(bin === 'node' ? process.execPath : bin, args, {
    cwd: rt.workdir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...rt.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  return {
    proc,
    output: () => out,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      proc.once('exit', (code) => { clearTimeout(t); resolve(code); });
      proc.kill('SIGTERM');
    }),
  };
}

/** Runs the HEALTHCHECK command as the container engine would (same ENV, same WORKDIR). */
export function runHealthcheck(rt: RuntimeSpec, env: Record<string, string>): { status: number | null; output: string } {
  if (!rt.healthcheck) throw new Error('runtime stage has no HEALTHCHECK');
  const [bin, ...args] = rt.healthcheck;
  const r = spawnSync(bin === 'node' ? process.execPath : bin, args, {
    cwd: rt.workdir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...rt.env, ...env },
    encoding: 'utf8',
    timeout: 10000,
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Waits until GET url answers 200; throws with the last status/error and the process output. */
export async function waitForOk(url: string, started: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (started.proc.exitCode !== null || started.proc.signalCode !== null) {
      throw new Error(`the runtime CMD exited (${started.proc.exitCode ?? started.proc.signalCode}) before ${url} was green:\n${started.output().slice(-4000)}`);
    }
    try {
      const r = await httpGet(url);
      if (r.status === 200) return;
      last = `HTTP ${r.status} ${r.body.slice(0, 300)}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${url}: ${last}\n${started.output().slice(-4000)}`);
}

/** The environment the test and the CLI start the runtime CMD with: loopback only, free port, embedded media engine. */
export function localRuntimeEnv(port: number): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: String(port),
    STOMP_TCP_PORT: '0',
    KMS_URLS: '',       // embedded media engine
    REDIS_URL: '',      // in-memory state
    EMBEDDED_KMS_PORT: '0',
    // The image runs with NODE_ENV=production: no development tokens, so a JWT key is required,
    // as in any real deployment.
    JWT_SECRET: crypto.randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const keep = argv.includes('--keep');
  const t0 = Date.now();
  const res = performBuild({
    repo: path.resolve(argv.find((a) => !a.startsWith('--')) ?? process.cwd()),
    reuseNodeModules: !argv.includes('--npm-ci') && process.env.BUILD_STEPS_NPM_CI !== '1',
    log: (m) => process.stderr.write(`[build-steps] ${m}\n`),
  });
  process.stderr.write(`[build-steps] built in ${Date.now() - t0} ms under ${res.workDir}\n`);
  const port = await freePort();
  const started = startRuntime(res.runtime, localRuntimeEnv(port));
  try {
    await waitForOk(`http://127.0.0.1:${port}/readyz`, started, 60000);
    process.stderr.write(`[build-steps] /readyz is green on http://127.0.0.1:${port} (runtime CMD: ${res.runtime.cmd.join(' ')})\n`);
    const hc = runHealthcheck(res.runtime, localRuntimeEnv(port));
    process.stderr.write(`[build-steps] HEALTHCHECK exit ${hc.status}\n`);
    if (hc.status !== 0) process.exitCode = 1;
  } catch (e) {
    process.stderr.write(`[build-steps] ${String(e)}\n`);
    process.exitCode = 1;
  } finally {
    await started.stop();
    if (!keep) fs.rmSync(res.workDir, { recursive: true, force: true });
  }
}

// Only as a program (deploy/build-steps.sh), not when bundled into or imported by something else.
if (require.main === module && /build-steps(\.[jt]s)?$/.test(process.argv[1] ?? '')) {
  main().catch((e) => { process.stderr.write(`[build-steps] ${e instanceof Error ? e.message : String(e)}\n`); process.exit(1); });
}
