// The CLI's resident memory over a long mixed run: OLTP with the safety writer, the bank and node
// crash/hang faults (profiles/crash-recovery.yaml, lengthened), sampled from /proc every few seconds
// and printed as a curve. Targets: peak RSS under 200 MB, and flat: RSS does not trend upward over
// the workload phase (after its first minute, which holds start-up and the load phase).
//
// Flat is judged by the trend, not by two minutes: the least-squares slope of RSS over every sample
// of the phase, projected over the phase's length, must stay within 10 % of the phase's mean RSS.
// RSS here is a sawtooth (V8 grows its heap, then a collection hands ~30 MB back), so one minute's
// mean depends on where the teeth fall: in one 10-minute curve the last minute's mean was 0.95-1.23×
// of the other 1-minute windows' means while its slope was 0.3 ± 1.2 MB/min (a leak of a few MB a
// minute shows as a slope whatever the phase of the teeth). The slope's 95 % interval is printed
// beside it; samples a second apart are not independent, so the true interval is wider.
//
//   npx tsx bench/memory.ts [--minutes 10] [--every 2] [--json FILE]
//
// Only the CLI's own process is counted: the database runs in processes of its own.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    every: { type: 'string', default: '2' },
    json: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const everyMs = Number(values.every) * 1000;
const seconds = Math.round(minutes * 60);

const dir = mkdtempSync(join(tmpdir(), 'statebench-bench-mem-'));
const profile = join(dir, 'crash-recovery-long.yaml');
// crash-recovery.yaml stretched to the run length: crashes and hangs keep coming all the way through.
const cycles = Math.max(1, Math.floor((seconds - 20) / 20));
writeFileSync(
  profile,
  `name: memory-soak
description: crash-recovery.yaml lengthened to ${minutes} minutes, for bench/memory.ts.
targets:
  - platform: baremetal
    storage: { kind: local }
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    clients: 4
    warmup: 2s
    duration: ${seconds}s
faults:
  - { type: node-crash, at: 5s, downFor: 2s, repeat: ${cycles}, every: 20s }
  - { type: node-hang, at: 15s, duration: 3s, repeat: ${cycles}, every: 20s }
safety:
  writer: { clients: 2, timeout: 1s }
  bank: { enabled: true, accounts: 10, clients: 2 }
`,
);

/** Current and high-water resident memory of a process, MB. */
const rssMb = (pid: number): { rss: number; hwm: number } | null => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return rss && hwm ? { rss: Number(rss[1]) / 1024, hwm: Number(hwm[1]) / 1024 } : null;
  } catch {
    return null;
  }
};

const cli = fileURLToPath(new URL('../bin/statebench.js', import.meta.url));
const child = spawn(process.execPath, [cli, 'run', profile, '--out', join(dir, 'run'), '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
const curve: Array<{ s: number; rssMb: number; load: number }> = [];
let hwm = 0;
const t0 = performance.now();
const timer = setInterval(() => {
  const r = rssMb(child.pid!);
  if (r === null) return;
  hwm = Math.max(hwm, r.hwm);
  curve.push({ s: Math.round((performance.now() - t0) / 1000), rssMb: +r.rss.toFixed(1), load: +loadavg()[0].toFixed(2) });
}, everyMs);
const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
clearInterval(timer);

// The kernel's high-water mark catches peaks between samples (up to the last sample).
const peak = Math.max(hwm, ...curve.map((c) => c.rssMb));
const width = 50;
console.log(`CLI RSS (sampled every ${everyMs / 1000}s, one line per 10 s) over a ${minutes}-minute crash-recovery run (exit ${code}):`);
// One line per 10 s (the highest sample in it), so a 10-minute curve fits a screen.
const shown = curve.filter((c, i) => i === curve.length - 1 || Math.floor(c.s / 10) !== Math.floor(curve[i + 1].s / 10));
for (const c of shown) console.log(`${String(c.s).padStart(5)}s ${c.rssMb.toFixed(0).padStart(4)} MB ${'#'.repeat(Math.round((c.rssMb / Math.max(200, peak)) * width))}  load ${c.load}`);
const window = (from: number, to: number) => curve.filter((c) => c.s >= from && c.s < to).map((c) => c.rssMb);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
// The workload runs for `seconds` after a few seconds of start-up; the samples after it are the
// verification and the reports, which read the run's results back.
const early = mean(window(60, 120));
const late = mean(window(seconds - 60, seconds));
const growth = late / early;
const duringRun = Math.max(...window(0, seconds));
const trend = rssTrend(curve.filter((c) => c.s >= 60 && c.s < seconds).map((c) => [c.s, c.rssMb]));
const phaseMin = (seconds - 60) / 60;
const projected = trend ? trend.slopePerS * 60 * phaseMin : NaN;
const flat = trend !== null && projected <= 0.1 * trend.mean;
console.log(`during the workload: peak ${duringRun.toFixed(0)} MB`);
console.log(
  trend
    ? `trend over the workload after its first minute (${trend.n} samples, mean ${trend.mean.toFixed(0)} MB): ${(trend.slopePerS * 60).toFixed(2)} ± ${(trend.halfWidth95PerS * 60).toFixed(2)} MB/min, ` +
        `projected over ${phaseMin.toFixed(1)} min: ${projected >= 0 ? '+' : ''}${projected.toFixed(1)} MB (${((projected / trend.mean) * 100).toFixed(1)} % of the mean; flat: ≤ 10 %) ${flat ? 'flat' : 'GROWING'}`
    : 'trend: too few samples after the first minute (run at least 2 minutes)',
);
console.log(`(for reference, not the criterion: last-minute mean ${late.toFixed(0)} MB / second-minute mean ${early.toFixed(0)} MB = ${growth.toFixed(3)}×)`);
console.log(`whole run (VmHWM, verification and reports included): peak ${peak.toFixed(0)} MB (target < 200)`);
if (values.json) {
  writeFileSync(values.json, JSON.stringify({ bench: 'memory', peakMb: peak, duringRunMb: duringRun, earlyMb: early, lateMb: late, growth, trend: trend && { slopeMbPerMin: trend.slopePerS * 60, halfWidth95MbPerMin: trend.halfWidth95PerS * 60, meanMb: trend.mean, projectedGrowthMb: projected, flat }, exitCode: code, curve, loadAverage: `${Math.min(...curve.map((c) => c.load))}–${Math.max(...curve.map((c) => c.load))}` }));
}
rmSync(dir, { recursive: true, force: true });

/** Least-squares line through (seconds, MB) points: slope, its 95 % half-width (normal), mean. */
function rssTrend(points: Array<[number, number]>): { slopePerS: number; halfWidth95PerS: number; mean: number; n: number } | null {
  const n = points.length;
  if (n < 3) return null;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const rss = points.reduce((a, [x, y]) => a + (y - (my + slope * (x - mx))) ** 2, 0);
  return { slopePerS: slope, halfWidth95PerS: 1.96 * Math.sqrt(rss / (n - 2) / sxx), mean: my, n };
}
