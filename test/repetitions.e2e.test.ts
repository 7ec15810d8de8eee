// Repetitions end to end: two bare-metal targets, two repetitions each in a seeded randomized-block
// order, one of them pinned (database on one CPU under a memory cgroup, load generator on another).
// Checked on summary.json, samples.jsonl and the run directory.
import { describe, it, expect } from 'vitest';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from './cli.ts';
import { Summary } from '../harness/model/summary.ts';
import { readJsonl } from '../harness/core/jsonl.ts';
import { comparisonsOf } from '../harness/report/ratios.ts';
import { memoryCgroupRoot, onlineCpus } from '../harness/core/resources.ts';
import { missing } from '../harness/testing/requirements.ts';

const pinnable = onlineCpus().length >= 2 && !!memoryCgroupRoot();
const skip = missing({ tools: ['taskset'], root: true, why: 'pinned repetitions' }) ?? (pinnable ? undefined : 'needs 2 CPUs and a memory cgroup');

const PROFILE = `
name: repetitions
targets:
  - name: pinned
    platform: baremetal
    resources: { cpuset: "0", memory: 1GiB, loadGenerator: { cpuset: "1" } }
  - name: free
    platform: baremetal
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    clients: 2
    warmup: 1s
    duration: 3s
repetitions: 2
order: randomized-blocks
seed: 11
report: { baseline: free }
`;

describe.skipIf(!!skip)('statebench run with repetitions and resources', () => {
  it('runs every target twice in the recorded order, keeps every repetition, and records resources, host noise and ratios', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'p.yaml'), PROFILE);
    const out = join(dir, 'out');
    const r = await cli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: tempDir() });
    expect(r.code).toBe(0);

    const s = Summary.parse(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
    expect(s.schemaVersion).toBe(2);
    expect(s.repetitions).toBe(2);
    expect(s.order).toMatchObject({ scheme: 'randomized-blocks', seed: 11 });
    expect(s.targets.map((t) => `${t.name}#${t.repetition}`)).toEqual(s.order!.sequence);
    expect(s.order!.sequence.slice().sort()).toEqual(['free#1', 'free#2', 'pinned#1', 'pinned#2']);
    for (const t of s.targets) {
      expect(t.status).toBe('completed');
      expect(t.workloads[0].transactions).toBeGreaterThan(0);
      expect(t.hostNoise?.some((p) => p.phase === 'measure:oltp-tpcb' && p.samples >= 2)).toBe(true);
    }

    // What each really had, read back from the kernel.
    const pinned = s.targets.find((t) => t.name === 'pinned')!;
    expect(pinned.resources?.database).toMatchObject({ cpuset: '0', memoryBytes: 1024 ** 3 });
    expect(pinned.resources?.loadGenerator).toMatchObject({ cpuset: '1', mechanism: 'taskset' });
    const free = s.targets.find((t) => t.name === 'free')!;
    expect(free.resources?.database.memoryBytes).toBeNull();
    expect(s.warnings?.some((w) => w.startsWith('Targets gave the database different resources'))).toBe(true);

    // The ratios in the summary are the ones its per-repetition values give.
    const tps = s.comparisons!.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps).toMatchObject({ target: 'pinned', baseline: 'free', method: 'paired-t-log', baselineRepetitions: [1, 2], targetRepetitions: [1, 2] });
    expect(tps.baselineValues).toEqual(s.targets.filter((t) => t.name === 'free').sort((a, b) => a.repetition! - b.repetition!).map((t) => t.workloads[0].tps));
    expect(comparisonsOf(s)).toEqual(s.comparisons);
    expect(tps.ci95!.lo).toBeLessThanOrEqual(tps.ratio!);
    expect(tps.ci95!.hi).toBeGreaterThanOrEqual(tps.ratio!);

    // Every repetition has its own artifacts and its own samples.
    for (const d of ['pinned', 'pinned.r2', 'free', 'free.r2']) expect(existsSync(join(out, 'targets', d))).toBe(true);
    const samples = readJsonl<{ target: string; repetition?: number; kind?: string; tps?: number }>(join(out, 'samples.jsonl')).records;
    for (const name of ['pinned', 'free']) {
      for (const rep of [1, 2]) {
        expect(samples.filter((x) => x.target === name && x.repetition === rep && typeof x.tps === 'number').length).toBeGreaterThanOrEqual(3);
        expect(samples.filter((x) => x.target === name && x.repetition === rep && x.kind === 'host').length).toBeGreaterThan(0);
      }
    }
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('### pinned vs free');
    expect(md).toContain('| pinned #2 |');
  });
});
