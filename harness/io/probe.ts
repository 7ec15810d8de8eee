// The I/O probe runs on the volume the database will use, before the database starts: random 4 KiB
// write IOPS, sequential write MiB/s, and 8 KiB write+fdatasync latency (the WAL pattern, which is
// what bounds commit latency). fio when installed; otherwise a built-in probe for the last two.
import { open, rm, writeFile } from 'node:fs/promises';
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

async function builtinProbe(spec: IoProbeSpec, dir: string): Promise<IoResult> {
  const file = join(dir, 'statebench-probe.dat');
  const block = Buffer.alloc(MiB, 0xa5);
  try {
    // Sequential write: MiB blocks until size or half the runtime, then one fdatasync, all timed.
    let fh = await open(file, 'w');
    const t0 = performance.now();
    let written = 0;
    while (written < spec.size && performance.now() - t0 < spec.runtime / 2) {
      written += (await fh.write(block, 0, block.length, written)).bytesWritten;
    }
    await fh.datasync();
    const seconds = (performance.now() - t0) / 1000;
    await fh.close();
    await rm(file, { force: true });

    // WAL pattern: 8 KiB append + fdatasync, for the other half of the runtime.
    const h = newHistogram();
    const page = Buffer.alloc(8192, 0x5a);
    fh = await open(file, 'w');
    const t1 = performance.now();
    let pos = 0;
    for (let i = 0; i < 100_000 && performance.now() - t1 < spec.runtime / 2; i++) {
      await fh.write(page, 0, page.length, pos);
      pos += page.length;
      const s = performance.now();
      await fh.datasync();
      recordMs(h, performance.now() - s);
    }
    await fh.close();
    return {
      tool: 'builtin',
      path: dir,
      seqWriteMiBps: +(written / MiB / seconds).toFixed(2),
      fsyncLatencyMs: { p50: +(h.getValueAtPercentile(50) / 1000).toFixed(3), p99: +(h.getValueAtPercentile(99) / 1000).toFixed(3) },
      fsyncSamples: h.totalCount,
    };
  } catch (e) {
    throw new StatebenchError(`built-in I/O probe in ${dir} failed: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await rm(file, { force: true });
  }
}
