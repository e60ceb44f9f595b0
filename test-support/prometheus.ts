// A real Prometheus (Debian `prometheus`) for tests: 127.0.0.1 on a free port, its own temporary
// data directory, a short scrape and evaluation interval, the given rule files; stopped after.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './ports';
import { requireProgram, stopProcess } from './processes';

export interface PrometheusOptions {
  /** job name → host:port targets (scraped at /metrics). */
  jobs: Record<string, string[]>;
  ruleFiles?: string[];
  /** Scrape and evaluation interval, e.g. '1s'. */
  interval?: string;
  /** job name → a file holding the bearer token sent to its targets (authorization.credentials_file). */
  bearerFiles?: Record<string, string>;
}

export interface StartedPrometheus {
  url: string;
  /** GET /api/v1/<path>, the `data` of a success answer. */
  api<T = unknown>(p: string): Promise<T>;
  stop(): Promise<void>;
}

export interface PromAlert { labels: Record<string, string>; annotations: Record<string, string>; state: 'pending' | 'firing'; value: string }

export async function startPrometheus(o: PrometheusOptions): Promise<StartedPrometheus> {
  const bin = requireProgram('prometheus', 'prometheus');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  const interval = o.interval ?? '1s';
  const rules = (o.ruleFiles ?? []).map((f, i) => {
    const copy = path.join(dir, `rules-${i}.yml`);
    fs.copyFileSync(f, copy);
    return copy;
  });
  const config = [
    'global:', `  scrape_interval: ${interval}`, `  evaluation_interval: ${interval}`,
    'rule_files:', ...rules.map((r) => `  - ${JSON.stringify(r)}`),
    'scrape_configs:',
    ...Object.entries(o.jobs).flatMap(([job, targets]) => [
      `  - job_name: ${job}`,
      ...(o.bearerFiles?.[job] ? ['    authorization:', '      type: Bearer', `      credentials_file: ${JSON.stringify(o.bearerFiles[job])}`] : []),
      '    static_configs:', `      - targets: ${JSON.stringify(targets)}`,
    ]),
  ].join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const proc = spawn(bin, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  proc.stderr?.on('data', (d) => { stderr = (stderr + String(d)).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => { await stopProcess(proc); fs.rmSync(dir, { recursive: true, force: true }); };
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}): ${stderr}`);
      return (await fetch(`${url}/-/ready`).catch(() => null))?.ok;
    }, 20000, `prometheus on ${url}`, 100);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    async api<T>(p: string): Promise<T> {
      const res = await fetch(`${url}/api/v1/${p}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus ${p}: ${body.error}`);
      return body.data;
    },
    stop,
  };
}
