// Every speed and memory target of bench/ in one command, each as a ratio to its peer measured in the
// same run (rounds alternate inside each benchmark), with the load average beside each figure:
//
//   npx tsx bench/all.ts [--only oltp,io,k6,copy,memory] [--rounds 3] [--memory-minutes 10]
//
// The benchmarks run one after another, each in its own process (so one's memory and threads do not
// disturb the next), and write JSON that this script gathers into one table at the end.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'oltp,io,k6,copy,memory' },
    rounds: { type: 'string', default: '3' },
    'memory-minutes': { type: 'string', default: '10' },
  },
});
const only = new Set(values.only!.split(','));
const rounds = values.rounds!;
const dir = mkdtempSync(join(tmpdir(), 'statebench-bench-all-'));
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

interface Ratio {
  name: string;
  ratio: number;
  ours: number;
  peer: number;
  unit: string;
  target: number | string;
}
interface BenchJson {
  bench: string;
  ratios?: Ratio[];
  loadAverage?: string;
  vuSteps?: { workload: string; cpuSet: number; sustainedVus: number; steps: Array<{ vus: number; tps: number; cpuCores: number }> };
  peakMb?: number;
  duringRunMb?: number;
  growth?: number;
  trend?: { slopeMbPerMin: number; halfWidth95MbPerMin: number; meanMb: number; projectedGrowthMb: number; flat: boolean } | null;
}

const runs: Array<{ label: string; script: string; args: string[] }> = [];
if (only.has('oltp')) runs.push({ label: 'oltp', script: 'oltp-driver.ts', args: ['--rounds', rounds] });
if (only.has('io')) runs.push({ label: 'io', script: 'io-probe.ts', args: ['--rounds', String(Math.max(4, Number(rounds)))] });
if (only.has('k6')) {
  for (const w of ['oltp-read-write', 'point-select', 'insert-heavy']) {
    runs.push({ label: `k6-${w}`, script: 'k6-runner.ts', args: ['--workload', w, '--rounds', rounds, ...(w === 'point-select' ? ['--vu-steps', '1,2,4,8,16,32,64'] : [])] });
  }
}
if (only.has('copy')) runs.push({ label: 'copy', script: 'copy-throughput.ts', args: ['--rounds', rounds] });
if (only.has('memory')) runs.push({ label: 'memory', script: 'memory.ts', args: ['--minutes', values['memory-minutes']!] });

const results: Array<{ label: string; json?: BenchJson; exit: number }> = [];
try {
  for (const r of runs) {
    const json = join(dir, `${r.label}.json`);
    console.log(`\n== ${r.script} ${r.args.join(' ')}`);
    const exit: number = await new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', here(r.script), ...r.args, '--json', json], { stdio: 'inherit' });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    let parsed: BenchJson | undefined;
    try {
      parsed = JSON.parse(readFileSync(json, 'utf8'));
    } catch {
      parsed = undefined;
    }
    results.push({ label: r.label, json: parsed, exit });
  }

  console.log('\n== summary (ratio = statebench / peer, medians of alternating rounds)');
  const pad = (s: string, n: number) => s.padEnd(n);
  for (const r of results) {
    if (!r.json) {
      console.log(`${pad(r.label, 46)} did not finish (exit ${r.exit})`);
      continue;
    }
    for (const x of r.json.ratios ?? []) {
      const ok = typeof x.target === 'number' ? x.ratio >= x.target : x.ratio >= 0.9 && x.ratio <= 1.1;
      console.log(`${pad(x.name, 46)} ${x.ratio.toFixed(3)}×  (${+x.ours.toFixed(3)} vs ${+x.peer.toFixed(3)} ${x.unit}; target ${typeof x.target === 'number' ? `≥ ${x.target}` : x.target}) ${ok ? 'met' : 'NOT met'}  load ${r.json.loadAverage}`);
    }
    if (r.json.vuSteps) {
      const v = r.json.vuSteps;
      console.log(`${pad(`k6 runner VUs (${v.workload})`, 46)} own CPU < 80 % of ${v.cpuSet} CPUs up to ${v.sustainedVus} VUs (${v.steps.map((s) => `${s.vus}: ${s.tps.toFixed(0)} tps/${s.cpuCores.toFixed(2)} CPUs`).join(', ')})`);
    }
    if (r.json.peakMb !== undefined) {
      console.log(
        `${pad('CLI RSS, mixed run', 46)} workload peak ${r.json.duringRunMb!.toFixed(0)} MB, whole run ${r.json.peakMb.toFixed(0)} MB (target < 200), ` +
          (r.json.trend
            ? `trend ${r.json.trend.slopeMbPerMin.toFixed(2)} ± ${r.json.trend.halfWidth95MbPerMin.toFixed(2)} MB/min, projected ${r.json.trend.projectedGrowthMb.toFixed(1)} MB = ${((r.json.trend.projectedGrowthMb / r.json.trend.meanMb) * 100).toFixed(1)} % of the mean (flat ≤ 10 %)`
            : 'trend: too few samples') +
          `  load ${r.json.loadAverage}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
