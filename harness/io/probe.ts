// The I/O probe runs on the volume the database will use, before the database starts: random 4 KiB
// write IOPS, sequential write MiB/s, and 8 KiB write+fdatasync latency (the WAL pattern, which is
// what bounds commit latency). fio when installed; otherwise a built-in probe for the last two,
// which mirrors fio's job options (bench/io-probe.ts measures the two against each other). Figures
// from different tools are not compared (see ioComparable).
import { open, rm, writeFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { hasTool } from '../core/tools.ts';
import { run } from '../core/exec.ts';
import { newHistogram, recordMs } from '../measure/histogram.ts';
import { StatebenchError, MissingToolError, EXIT } from '../errors.ts';
import type { IoProbeSpec } from '../model/profile.ts';
import type { IoResult } from './types.ts';

const MiB = 1024 * 1024;

export async function probeIo(spec: IoProbeSpec, dir: string, rawOut?: string): Promise<IoResult> {
  const useFio = spec.tool === 'fio' || (spec.tool === 'auto' && hasTool('fio'));
  if (spec.tool === 'fio' && !hasTool('fio')) {
    throw new MissingToolError('fio', 'for io.tool: fio', 'Install it with `apt-get install fio` (Debian/Ubuntu), or set io.tool: builtin');
  }
  return useFio ? fioProbe(spec, dir, rawOut) : builtinProbe(spec, dir);
}

/** fio arguments for the three jobs; each gets a third of the runtime. Exported for tests. */
export function fioArgs(spec: IoProbeSpec, dir: string, direct: boolean): string[] {
  const seconds = Math.max(1, Math.round(spec.runtime / 3000));
  const size = Math.max(4 * MiB, spec.size);
  const engine = direct ? ['--ioengine=libaio', '--direct=1'] : ['--ioengine=psync', '--direct=0'];
  return [
    '--output-format=json',
    `--directory=${dir}`,
    `--runtime=${seconds}`,
    '--time_based',
    '--group_reporting',
    `--size=${size}`,
    '--name=randwrite', '--rw=randwrite', '--bs=4k', ...engine, '--iodepth=16',
    // Without direct I/O, random writes land in the page cache; fsync at the end keeps the figure honest.
    ...(direct ? [] : ['--end_fsync=1']),
    '--name=seqwrite', '--stonewall', '--rw=write', '--bs=1M', ...engine, '--iodepth=4', ...(direct ? [] : ['--end_fsync=1']),
    '--name=walsync', '--stonewall', '--rw=write', '--bs=8k', '--ioengine=sync', '--direct=0', '--fdatasync=1', `--size=${Math.min(size, 16 * MiB)}`,
  ];
}

interface FioJob {
  jobname: string;
  error: number;
  write: { iops: number; bw_bytes: number; clat_ns?: { percentile?: Record<string, number> } };
  sync?: { lat_ns?: { N?: number; percentile?: Record<string, number> }; total_ios?: number };
}

export function parseFio(json: string, dir: string, version: string, raw?: string): IoResult {
  // fio may print warnings before the JSON document.
  const start = json.indexOf('{');
  if (start < 0) throw new StatebenchError(`fio printed no JSON: ${json.slice(0, 200)}`);
  const doc = JSON.parse(json.slice(start)) as { jobs: FioJob[] };
  const job = (name: string) => {
    const j = doc.jobs.find((x) => x.jobname === name);
    if (!j) throw new StatebenchError(`fio output has no job "${name}"`);
    if (j.error) throw new StatebenchError(`fio job ${name} failed with error ${j.error}`);
    return j;
  };
  const wal = job('walsync');
  const pct = wal.sync?.lat_ns?.percentile ?? {};
  const pick = (q: string) => (pct[q] ?? 0) / 1e6;
  return {
    tool: version,
    path: dir,
    randWriteIops: Math.round(job('randwrite').write.iops),
    seqWriteMiBps: +(job('seqwrite').write.bw_bytes / MiB).toFixed(2),
    fsyncLatencyMs: { p50: +pick('50.000000').toFixed(3), p99: +pick('99.000000').toFixed(3) },
    fsyncSamples: wal.sync?.lat_ns?.N ?? wal.sync?.total_ios ?? 0,
    raw,
  };
}

async function fioProbe(spec: IoProbeSpec, dir: string, rawOut?: string): Promise<IoResult> {
  const version = (await run('fio', ['--version'])).stdout.trim();
  let out: string;
  try {
    out = (await run('fio', fioArgs(spec, dir, true), { timeoutMs: spec.runtime + 120_000 })).stdout;
  } catch {
    // Some filesystems (tmpfs, some FUSE mounts) refuse O_DIRECT; measure buffered with fsync instead.
    out = (await run('fio', fioArgs(spec, dir, false), { timeoutMs: spec.runtime + 120_000 })).stdout;
  }
  if (rawOut) await writeFile(rawOut, out);
  await Promise.all(['randwrite', 'seqwrite', 'walsync'].map((n) => rm(join(dir, `${n}.0.0`), { force: true })));
  return parseFio(out, dir, version, rawOut ? rawOut.split('/').pop() : undefined);
}

const PROBE_WORKER = new URL('./probe-worker.mjs', import.meta.url);

type ProbeJob =
  | { job: 'seqwrite'; file: string; size: number; ms: number; direct: boolean; threads: number; writeBytes: number; thread: number; gate: SharedArrayBuffer }
  | { job: 'walsync'; file: string; walSize: number; ms: number; maxSamples: number };

/** Runs one probe job in its own thread; `onReady` hears its "ready" message. Rejects with the system call's error code. */
function inProbeThread<T>(job: ProbeJob, onReady?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(PROBE_WORKER, { workerData: job, execArgv: [] });
    worker.on('message', (m: { ready?: boolean; ok: boolean; result?: T; code?: string; message?: string }) => {
      if (m.ready) return onReady?.();
      if (m.ok) resolve(m.result as T);
      else reject(Object.assign(new Error(m.message), { code: m.code }));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`I/O probe thread exited with code ${code}`)));
  });
}

/**
 * Lays a file out as fio does before a job (not timed): fallocate(2) of the whole size, here through
 * util-linux's fallocate(1) since Node has no binding. Without it, or on a filesystem that refuses
 * fallocate, the file is written out in full instead, which makes the first pass of writes cheaper than
 * fio's; the result says which was used.
 */
export async function layOut(file: string, bytes: number): Promise<'fallocate' | 'written'> {
  await rm(file, { force: true });
  if (hasTool('fallocate')) {
    try {
      await run('fallocate', ['-l', String(bytes), file]);
      return 'fallocate';
    } catch {
      // fall through to writing it out
    }
  }
  const block = Buffer.alloc(MiB);
  const fh = await open(file, 'w');
  try {
    for (let at = 0; at < bytes; at += MiB) await fh.write(block, 0, Math.min(MiB, bytes - at), at);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return 'written';
}

/** How the seqwrite job keeps fio's four 1 MiB writes in flight (see SEQ_SHAPE). */
export interface SeqShape {
  threads: number;
  writeBytes: number;
}

/** fio's seqwrite: --bs=1M --iodepth=4, i.e. 4 MiB in flight. */
export const SEQ_SHAPE: SeqShape = { threads: 4, writeBytes: MiB };

export async function seqWrite(file: string, size: number, ms: number, direct: boolean, shape: SeqShape = SEQ_SHAPE): Promise<{ bytes: number; seconds: number }> {
  const gate = new SharedArrayBuffer(4);
  let ready = 0;
  const open = () => {
    if (++ready === shape.threads) {
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
    }
  };
  const threads = Array.from({ length: shape.threads }, (_, thread) =>
    inProbeThread<{ bytes: number; seconds: number }>({ job: 'seqwrite', file, size, ms, direct, threads: shape.threads, writeBytes: shape.writeBytes, thread, gate }, open),
  );
  const settled = await Promise.allSettled(threads);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    // A thread that failed before the gate leaves the others waiting on it: let them go.
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    throw (failed as PromiseRejectedResult).reason;
  }
  const results = settled.map((s) => (s as PromiseFulfilledResult<{ bytes: number; seconds: number }>).value);
  return { bytes: results.reduce((a, r) => a + r.bytes, 0), seconds: Math.max(...results.map((r) => r.seconds)) };
}

/** Seconds each job runs: the same as each of fio's jobs gets. */
export function jobSeconds(spec: IoProbeSpec): number {
  return Math.max(1, Math.round(spec.runtime / 3000));
}

/**
 * fio's seqwrite and walsync jobs (see fioArgs) mirrored in one dedicated thread making synchronous
 * system calls: O_DIRECT 1 MiB writes (buffered plus a final fsync where the filesystem refuses
 * O_DIRECT, as fio falls back), and 8 KiB writes each followed by a timed fdatasync.
 */
async function builtinProbe(spec: IoProbeSpec, dir: string): Promise<IoResult> {
  const file = join(dir, 'statebench-probe.dat');
  const ms = jobSeconds(spec) * 1000;
  const size = Math.max(4 * MiB, spec.size);
  try {
    await layOut(file, Math.floor(size / MiB) * MiB);
    let seq: { bytes: number; seconds: number };
    try {
      seq = await seqWrite(file, size, ms, true);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EINVAL') throw e;
      seq = await seqWrite(file, size, ms, false);
    }
    const walSize = Math.min(size, 16 * MiB);
    await layOut(file, walSize);
    const wal = await inProbeThread<{ samples: Float64Array }>({ job: 'walsync', file, walSize, ms, maxSamples: 1_000_000 });
    const h = newHistogram();
    for (const s of wal.samples) recordMs(h, s);
    return {
      tool: 'builtin',
      path: dir,
      seqWriteMiBps: +(seq.bytes / MiB / seq.seconds).toFixed(2),
      fsyncLatencyMs: { p50: +(h.getValueAtPercentile(50) / 1000).toFixed(3), p99: +(h.getValueAtPercentile(99) / 1000).toFixed(3) },
      fsyncSamples: h.totalCount,
    };
  } catch (e) {
    throw new StatebenchError(`built-in I/O probe in ${dir} failed: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await rm(file, { force: true });
  }
}
