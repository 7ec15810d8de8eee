// Running the real k6: a k6 built with xk6-sql and xk6-sql-driver-postgres
//   xk6 build --with github.com/grafana/xk6-sql --with github.com/grafana/xk6-sql-driver-postgres
// `k6 version` lists the extensions compiled in; the runner is used only when both are there.
// The run writes `--summary-export` and `--out json=` into the output directory; the JSON points
// are read while k6 runs (to know when the first iteration ended, for the measured phase and the
// fault schedule) and at the end.
import { spawn } from 'node:child_process';
import { openSync, readSync, closeSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { run } from '../../core/exec.ts';
import { PointsAccumulator } from './normalize.ts';

export const K6_INSTALL_HINT =
  'Build a k6 with the SQL extension and its PostgreSQL driver: `go install go.k6.io/xk6/cmd/xk6@latest && xk6 build --with github.com/grafana/xk6-sql --with github.com/grafana/xk6-sql-driver-postgres`, put the resulting k6 on PATH (or set STATEBENCH_K6), or use runner: builtin';

/** Tags k6 puts on every sample by default, plus vu and iter to tie errors to iterations. */
export const SYSTEM_TAGS = 'proto,subproto,status,method,url,name,group,check,error,error_code,tls_version,scenario,service,expected_response,vu,iter';
export const TREND_STATS = 'avg,min,med,max,p(90),p(95),p(99),count';

export interface K6BinaryInfo {
  path: string;
  version: string;
  sql: boolean;
  postgres: boolean;
}

/** Reads `k6 version`; undefined when there is no k6 at `bin`. */
export async function probeK6(bin = process.env.STATEBENCH_K6 || 'k6'): Promise<K6BinaryInfo | undefined> {
  let out: string;
  try {
    out = (await run(bin, ['version'], { timeoutMs: 15_000 })).stdout;
  } catch {
    return undefined;
  }
  return parseK6Version(bin, out);
}

export function parseK6Version(path: string, out: string): K6BinaryInfo {
  const version = /k6\s+(v\d+\.\d+\.\d+\S*)/.exec(out)?.[1] ?? 'unknown';
  return {
    path,
    version,
    sql: /(^|[\s,])k6\/x\/sql(\s|\[|$)/m.test(out),
    postgres: /k6\/x\/sql\/driver\/postgres\b/.test(out),
  };
}

export interface K6BinaryRunOptions {
  bin: string;
  script: string;
  outDir: string;
  env: Record<string, string>;
  vus?: number;
  /** k6 --duration, milliseconds. */
  durationMs?: number;
  signal?: AbortSignal;
  /** The first iteration ended; epoch ms of its start. */
  onFirstIteration?(startAbs: number): void;
  /** Iterations seen so far, about every second. */
  onProgress?(iterations: number): void;
  /** k6's own output lines (stderr/stdout). */
  log?(line: string): void;
}

export interface K6BinaryRunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  summaryPath: string;
  pointsPath: string;
  points: PointsAccumulator;
  /** Last lines k6 printed. */
  outputTail: string[];
  /** Epoch ms when k6 was started. */
  startedAbs: number;
}

/** k6 exit codes that still leave a complete summary: 0, and 99 (thresholds crossed). */
export const K6_EXIT_OK = new Set([0, 99]);

export function k6Args(o: Pick<K6BinaryRunOptions, 'script' | 'vus' | 'durationMs'>, summaryPath: string, pointsPath: string): string[] {
  const args = [
    'run',
    '--no-color',
    '--quiet',
    '--no-usage-report',
    '--summary-export',
    summaryPath,
    '--out',
    `json=${pointsPath}`,
    '--system-tags',
    SYSTEM_TAGS,
    '--summary-trend-stats',
    TREND_STATS,
  ];
  if (o.vus !== undefined) args.push('--vus', String(o.vus));
  if (o.durationMs !== undefined) args.push('--duration', `${Math.round(o.durationMs)}ms`);
  args.push(o.script);
  return args;
}

export async function runK6Binary(o: K6BinaryRunOptions): Promise<K6BinaryRunResult> {
  const summaryPath = join(o.outDir, 'k6-summary.json');
  const pointsPath = join(o.outDir, 'k6-points.json');
  const points = new PointsAccumulator();
  const tail: string[] = [];
  const startedAbs = Date.now();
  const child = spawn(o.bin, k6Args(o, summaryPath, pointsPath), {
    // k6 puts the system environment into __ENV (STATEBENCH_DSN stays off the command line).
    // Extensions are never fetched at run time: the binary must have them.
    env: { ...process.env, ...o.env, K6_NO_USAGE_REPORT: 'true', K6_AUTO_EXTENSION_RESOLUTION: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      o.log?.(line);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);

  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    // SIGINT: k6 stops the scenarios, runs teardown and still writes its summary.
    child.kill('SIGINT');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });

  // Follow the points file while k6 writes it.
  let offset = 0;
  let reported = false;
  const buf = Buffer.alloc(1 << 20);
  const decoder = new StringDecoder('utf8');
  const drain = () => {
    if (!existsSync(pointsPath)) return;
    const fd = openSync(pointsPath, 'r');
    try {
      const size = statSync(pointsPath).size;
      // Bounded: reads at most what the file holds now.
      while (offset < size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - offset), offset);
        if (n <= 0) break;
        offset += n;
        points.push(decoder.write(buf.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
    if (!reported && points.firstIterationAbs !== undefined) {
      reported = true;
      o.onFirstIteration?.(points.firstIterationAbs);
    }
  };
  const poll = setInterval(() => {
    try {
      drain();
      o.onProgress?.(points.iterations.length);
    } catch {
      // The next tick retries.
    }
  }, 250);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (e) => reject(e));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    clearInterval(poll);
    clearTimeout(killTimer);
    o.signal?.removeEventListener('abort', onAbort);
  });
  drain();
  points.end();
  return { exitCode: exit.code, signal: exit.signal, summaryPath, pointsPath, points, outputTail: tail, startedAbs };
}
