// The built-in I/O probe's jobs, each thread making synchronous system calls so the timings are the
// disk's, not the event loop's. They mirror fio's jobs in probe.ts (fioArgs), option by option:
//
//   seqwrite  --rw=write --bs=1M --direct=1 --iodepth=4: `threads` threads (SEQ_SHAPE in probe.ts),
//             each writing `writeBytes` blocks with O_DIRECT from page-aligned buffers, thread k taking
//             blocks k, k+threads, …, so as many writes are in flight as in fio's libaio queue. fio
//             submits them from one thread; on a host with far more runnable threads than CPUs, four
//             threads get more CPU time than fio's one (bench/io-probe.ts). Where the filesystem refuses
//             O_DIRECT, buffered writes and one fsync at the end (fio's end_fsync=1). --time_based:
//             wraps over the file until the time is up.
//   walsync   --rw=write --bs=8k --ioengine=sync --direct=0 --fdatasync=1: one thread, each 8 KiB
//             write followed by fdatasync, and only the fdatasync timed (fio's sync latency).
//
// The files are laid out before a job starts, as fio lays them out (probe.ts), and that is not timed.
// A seqwrite thread reports "ready" and waits on `gate` so that all of them start together.
import { parentPort, workerData } from 'node:worker_threads';
import { openSync, writeSync, fdatasyncSync, fsyncSync, closeSync, constants } from 'node:fs';

const MiB = 1024 * 1024;

function alignedBuffer(bytes, fill) {
  const pages = Math.ceil(bytes / 65536);
  const mem = new WebAssembly.Memory({ initial: pages, maximum: pages });
  return Buffer.from(mem.buffer, 0, bytes).fill(fill);
}

function seqwrite({ file, size, ms, direct, threads, writeBytes, thread, gate }) {
  const block = alignedBuffer(writeBytes, 0xa5);
  const blocks = Math.max(1, Math.floor(size / writeBytes));
  const fd = openSync(file, constants.O_WRONLY | (direct ? constants.O_DIRECT : 0));
  try {
    // O_DIRECT refusal shows on the first write, not at open: find out before the gate.
    writeSync(fd, block, 0, writeBytes, (thread % blocks) * writeBytes);
    const flag = new Int32Array(gate);
    parentPort.postMessage({ ready: true });
    Atomics.wait(flag, 0, 0);
    const t0 = performance.now();
    let written = 0;
    for (let i = thread; performance.now() - t0 < ms; i += threads) written += writeSync(fd, block, 0, writeBytes, (i % blocks) * writeBytes);
    if (!direct) fsyncSync(fd);
    return { bytes: written, seconds: (performance.now() - t0) / 1000 };
  } finally {
    closeSync(fd);
  }
}

function walsync({ file, walSize, ms, maxSamples }) {
  const page = alignedBuffer(8192, 0x5a);
  const pages = Math.max(1, Math.floor(walSize / 8192));
  const fd = openSync(file, constants.O_WRONLY);
  const samples = new Float64Array(maxSamples);
  let n = 0;
  try {
    const t0 = performance.now();
    for (let i = 0; n < maxSamples && performance.now() - t0 < ms; i++) {
      writeSync(fd, page, 0, 8192, (i % pages) * 8192);
      const s = performance.now();
      fdatasyncSync(fd);
      samples[n++] = performance.now() - s;
    }
    return { samples: samples.slice(0, n) };
  } finally {
    closeSync(fd);
  }
}

const jobs = { seqwrite, walsync };
try {
  parentPort.postMessage({ ok: true, result: jobs[workerData.job](workerData) });
} catch (e) {
  parentPort.postMessage({ ok: false, code: e.code, message: e.message });
}
