// report.md: verdict, the comparison of targets (ratios over repetitions with 95 % intervals and
// a verdict each interval allows), per-repetition figures, host noise, checks, environment. Suitable
// for $GITHUB_STEP_SUMMARY. Every figure carries its unit, its count and its spread; what was not
// measured says so. A ratio of single runs is printed only as "a single observation".
import type { RatioSummary, Summary, TargetSummary } from '../model/summary.ts';
import { comparisonsOf, comparisonWarnings, intervalMethodText, signedPct } from './ratios.ts';

const fmt = (v: number | undefined | null, digits = 2) => (v === undefined || v === null ? '—' : Number(v.toFixed(digits)).toLocaleString('en-US'));

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: string[], rows: string[][]): string {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
}

/** `docker/local #2` when targets repeat, else the name. */
export function repetitionLabel(s: Pick<Summary, 'targets'>): (t: TargetSummary) => string {
  const multi = s.targets.some((t) => (t.repetition ?? 1) > 1);
  return (t) => (multi ? `${t.name} #${t.repetition ?? 1}` : t.name);
}

export function renderMarkdown(s: Summary): string {
  const base = s.targets.find((t) => t.name === s.baseline) ?? s.targets[0];
  const label = repetitionLabel(s);
  const checks = s.targets.flatMap((t) => t.checks.map((c) => ({ target: label(t), ...c })));
  const failed = checks.filter((c) => !c.passed);
  const out: string[] = [];
  out.push(`# statebench: ${s.profile}`);
  out.push('');
  const reps = s.repetitions ?? Math.max(1, ...s.targets.map((t) => t.repetition ?? 1));
  out.push(`Run \`${s.runId}\` · ${s.startedAt} → ${s.finishedAt} · status **${s.status}** · baseline \`${base?.name ?? '—'}\` · ${reps} repetition${reps === 1 ? '' : 's'} per target`);
  if (s.order) out.push('', `Order (${s.order.scheme}${s.order.seed === null ? '' : `, seed ${s.order.seed}`}): ${s.order.sequence.join(' → ')}`);
  out.push('');
  const verdict =
    s.status !== 'completed'
      ? `**${s.status.toUpperCase()}**: ${s.targets.filter((t) => t.error).map((t) => `${label(t)}: ${t.error}`).join('; ') || 'the run did not finish'}`
      : checks.length === 0
        ? 'No conformance checks were configured.'
        : failed.length
          ? `**FAIL**: ${failed.length} of ${checks.length} checks failed (${failed.map((c) => `${c.target} ${c.name}`).join(', ')})`
          : `**PASS**: all ${checks.length} checks passed`;
  out.push(`## Verdict\n\n${verdict}`);
  out.push('');

  out.push(...comparisonSection(s));

  out.push('## Targets');
  out.push('');
  out.push('One row per target and repetition, in the order they ran. Ratios between targets are in the comparison above, never from one row against another.');
  out.push('');
  out.push(
    table(
      ['target', 'status', 'I/O tool', 'rand 4k write IOPS', 'seq write MiB/s', 'fdatasync p50 ms', 'fdatasync p99 ms', 'fdatasync samples'],
      s.targets.map((t) => [
        label(t),
        t.status,
        t.io?.tool ?? 'not measured',
        fmt(t.io?.randWriteIops, 0),
        fmt(t.io?.seqWriteMiBps),
        fmt(t.io?.fsyncLatencyMs.p50, 3),
        fmt(t.io?.fsyncLatencyMs.p99, 3),
        t.io ? fmt(t.io.fsyncSamples, 0) : '—',
      ]),
    ),
  );
  out.push('');

  const workloadNames = [...new Set(s.targets.flatMap((t) => t.workloads.map((w) => w.name)))];
  for (const name of workloadNames) {
    out.push(`### Workload \`${name}\``);
    out.push('');
    out.push('TPS over the measured window (warmup and work crossing its edges excluded); per-second TPS over whole seconds; latency percentiles over every transaction of the window (n = transactions).');
    out.push('');
    out.push(
      table(
        ['target', 'TPS tx/s', 'TPS per second min–median–max (n s)', 'transactions', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'outside the window'],
        s.targets.map((t) => {
          const w = t.workloads.find((x) => x.name === name);
          if (!w) return [label(t), 'not run', '', '', '', '', '', '', '', ''];
          return [
            label(t),
            fmt(w.tps, 1),
            w.tpsPerSecond ? `${w.tpsPerSecond.min}–${w.tpsPerSecond.median}–${w.tpsPerSecond.max} (n=${w.tpsPerSecond.count})` : '—',
            fmt(w.transactions, 0),
            w.errors ? `${w.errors} (${Object.entries(w.errorsByKind).map(([k, v]) => `${k} ${v}`).join(', ')})` : '0',
            fmt(w.latencyMs.p50, 3),
            fmt(w.latencyMs.p95, 3),
            fmt(w.latencyMs.p99, 3),
            fmt(w.latencyMs.max, 3),
            w.edges ? `${w.edges.startedBeforeWindow} started before, ${w.edges.endedAfterWindow} ended after` : '—',
          ];
        }),
      ),
    );
    out.push('');
    for (const t of s.targets) {
      const g = t.workloads.find((x) => x.name === name)?.loadGenerator;
      if (g?.saturated) out.push(`> **Warning** (${t.name}): ${g.warning}.`, '');
    }
  }

  out.push(...bigDataSection(s.targets, label));
  out.push(...recoverySection(s.targets, label));
  out.push(...safetySection(s.targets, label));
  out.push(...haSection(s.targets, label));
  out.push(...resourcesSection(s.targets, label));
  out.push(...hostNoiseSection(s.targets, label));

  out.push('## Checks');
  out.push('');
  out.push(
    checks.length
      ? table(
          ['target', 'check', 'result', 'value', 'threshold', 'detail'],
          checks.map((c) => [c.target, c.name, c.passed ? 'pass' : '**FAIL**', String(c.value ?? '—'), String(c.threshold ?? '—'), c.message]),
        )
      : 'No checks configured in the profile.',
  );
  out.push('');

  out.push('## Environment');
  out.push('');
  const e = s.environment as Record<string, unknown>;
  const engines = [...new Map(s.targets.map((t) => [t.name, t.engine.version ?? 'not started'])).entries()];
  out.push(
    table(
      ['fact', 'value'],
      [
        ['statebench', String(e.statebench)],
        ['node', String(e.node)],
        ['kernel', String(e.kernel)],
        ['CPU', `${e.cpuModel} × ${e.cpus}`],
        ['memory', `${fmt(Number(e.memoryBytes) / 1024 ** 3, 1)} GiB`],
        ...engines.map(([name, v]) => [`engine on ${name}`, v]),
        ...Object.entries((e.tools as Record<string, string | null>) ?? {}).map(([k, v]) => [k, v ?? 'not installed']),
      ],
    ),
  );
  out.push('');
  return out.join('\n');
}

/** "1,234.5 (1,200–1,250, n=3)": geometric mean, range and count of per-repetition values. */
function valuesCell(values: Array<number | undefined>, unit: string, digits = unit === 'ms' ? 3 : 1): string {
  const xs = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0);
  if (!xs.length) return 'not measured';
  const gm = Math.exp(xs.reduce((a, b) => a + Math.log(b), 0) / xs.length);
  if (xs.length === 1) return `${fmt(xs[0], digits)} ${unit} (n=1)`;
  return `${fmt(gm, digits)} ${unit} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}, n=${xs.length})`;
}

const VERDICT: Record<RatioSummary['verdict'], string> = {
  better: '**better**',
  worse: '**worse**',
  'no-difference': 'no difference detectable',
  'single-observation': 'single observation, no verdict',
  'not-comparable': 'not comparable',
};

export function ciText(c: RatioSummary): string {
  return c.ci95 ? `${signedPct(c.ci95.lo - 1)} … ${signedPct(c.ci95.hi - 1)}` : '—';
}

function comparisonSection(s: Summary): string[] {
  const comparisons = s.comparisons ?? comparisonsOf(s);
  const warnings = s.warnings ?? comparisonWarnings(s);
  const out = ['## Comparison', ''];
  if (!comparisons.length) {
    out.push(new Set(s.targets.map((t) => t.name)).size < 2 ? 'Only one target ran: there is nothing to compare it with. Figures are absolute.' : 'No figure was measured on both the baseline and another target.', '');
    return [...out, ...warnings.map((w) => `> **Warning:** ${w}`), ...(warnings.length ? [''] : [])];
  }
  out.push(
    `Each value is the geometric mean over repetitions (each a fresh deploy), with its range and n. Ratio = target / baseline; ${intervalMethodText(comparisons)} Per-second samples within one run are autocorrelated and are not used as observations. A difference is stated only when the interval excludes no change. These intervals hold for this run's host; another run can differ by its own drift, which \`statebench compare\` with several runs a side takes into account.`,
    '',
  );
  for (const w of warnings) out.push(`> **Warning:** ${w}`, '');
  for (const target of [...new Set(comparisons.map((c) => c.target))]) {
    const rows = comparisons.filter((c) => c.target === target);
    out.push(`### ${target} vs ${rows[0].baseline}`, '');
    const tps = rows.filter((c) => c.group === 'tps' || c.group === 'bulk');
    for (const c of tps) out.push(`- ${c.text}`);
    if (tps.length) out.push('');
    out.push(
      table(
        ['figure', rows[0].baseline, target, 'ratio', 'change, 95 % CI', 'verdict'],
        rows.map((c) => [
          c.metric,
          valuesCell(c.baselineValues, c.unit),
          valuesCell(c.targetValues, c.unit),
          c.ratio === null ? '—' : `${c.ratio.toFixed(3)}×`,
          c.ci95 ? `${signedPct(c.ratio! - 1)} (${ciText(c)})` : c.ratio === null ? '—' : `${signedPct(c.ratio - 1)} (no interval)`,
          c.verdict === 'no-difference' && c.repetitionsToResolve5pct && c.repetitionsToResolve5pct > Math.min(c.baselineValues.length, c.targetValues.length) ? `${VERDICT[c.verdict]}; ~${c.repetitionsToResolve5pct} reps resolve 5 %` : VERDICT[c.verdict],
        ]),
      ),
      '',
    );
  }
  return out;
}

function grantCell(g: NonNullable<TargetSummary['resources']>['database'] | undefined): string {
  if (!g) return 'not recorded';
  const bits = [g.cpuset === null ? 'any CPU' : `CPUs ${g.cpuset}`, g.cpus === null ? '' : `quota ${g.cpus} CPUs`, g.memoryBytes === null ? 'no memory limit' : `${fmt(g.memoryBytes / 1024 ** 2, 0)} MiB`].filter(Boolean);
  return `${bits.join(', ')} (${g.mechanism})${g.notes?.length ? `: ${g.notes.join('; ')}` : ''}`;
}

function resourcesSection(targets: TargetSummary[], label: (t: TargetSummary) => string): string[] {
  if (!targets.some((t) => t.resources)) return [];
  const out = ['## Resources', '', 'What each part of each target was given, as applied by the platform.', ''];
  out.push(table(['target', 'database', 'load generator'], targets.map((t) => [label(t), grantCell(t.resources?.database), grantCell(t.resources?.loadGenerator)])), '');
  return out;
}

function hostNoiseSection(targets: TargetSummary[], label: (t: TargetSummary) => string): string[] {
  if (!targets.some((t) => t.hostNoise?.length)) return [];
  const out = ['## Host noise', ''];
  out.push(
    'Sampled once a second while each phase ran (n = samples). CPU outside the run: busy CPU time of processes that are not the run’s own (database, load generator, harness), in cores. A phase is flagged busy when more than a tenth of its samples had processes outside the run using over a quarter of the cores (at least half a core) or steal above 5 %. The run queue counts the run’s own processes too; pressure is the kernel’s PSI “some” avg10 (share of time some task waited for CPU or memory).',
    '',
  );
  const m = (f: { median: number; max: number } | null, digits = 2) => (f ? `${fmt(f.median, digits)} / ${fmt(f.max, digits)}` : 'n/a');
  out.push(
    table(
      ['target', 'phase', 'n', 'load1 median / max', 'run queue median / max (cores)', 'outside the run, cores median / max', 'iowait % median / max', 'steal % median / max', 'CPU pressure % median / max', 'memory pressure % median / max', 'busy'],
      targets.flatMap((t) =>
        (t.hostNoise ?? []).map((p) => [
          label(t),
          p.phase,
          String(p.samples),
          m(p.load1),
          `${m(p.runQueue, 0)} (${p.cores})`,
          m(p.outsideCpuCores),
          m(p.iowaitPct, 1),
          m(p.stealPct, 1),
          m(p.cpuPressure),
          m(p.memoryPressure),
          p.busy ? `**busy** (${Math.round(p.busyShare * 100)} % of the time)` : `no (${Math.round(p.busyShare * 100)} %)`,
        ]),
      ),
    ),
    '',
  );
  return out;
}

function recoverySection(targets: TargetSummary[], label: (t: TargetSummary) => string): string[] {
  if (!targets.some((t) => t.faults.length)) return ['## Recovery', '', 'No faults were scheduled: recovery was not measured.', ''];
  const out = ['## Recovery', ''];
  out.push(
    table(
      ['target', 'faults', 'recovered', 'fault → first acknowledged write, ms: min–median–p95–max'],
      targets.map((t) => [
        label(t),
        [...new Set(t.faults.map((f) => f.type))].join(', ') || '—',
        `${t.faults.filter((f) => f.recovery.recovered).length}/${t.faults.length}`,
        t.recoveryMs?.count ? `${fmt(t.recoveryMs.min, 0)}–${fmt(t.recoveryMs.median, 0)}–${fmt(t.recoveryMs.p95, 0)}–${fmt(t.recoveryMs.max, 0)} (n=${t.recoveryMs.count})` : 'no cycle saw a write afterwards',
      ]),
    ),
  );
  out.push('');
  for (const t of targets.filter((x) => x.faults.length)) {
    out.push(`<details><summary>${label(t)}: fault cycles</summary>\n`);
    out.push(
      table(
        ['cycle', 'type', 'node', 'injected at ms', 'first failure ms', 'first write after ms', 'unavailable ms', 'to first write ms', 'to healthy ms', 'state'],
        t.faults.map((f) => [
          String(f.cycle),
          f.type,
          f.node ?? f.target,
          fmt(f.injectedAtMs, 0),
          fmt(f.recovery.firstFailureMs, 0),
          fmt(f.recovery.firstWriteAfterMs, 0),
          fmt(f.recovery.unavailableMs, 0),
          fmt(f.recovery.timeToFirstWriteMs, 0),
          fmt(f.recovery.timeToHealthyMs, 0),
          f.error ? `${f.state}: ${f.error}` : f.state,
        ]),
      ),
    );
    for (const f of t.faults.filter((x) => x.kubernetes?.findings.length)) {
      out.push(`Kubernetes, cycle ${f.cycle} (${f.type} on ${f.kubernetes!.kubeNode ?? f.node ?? f.target}):`);
      out.push('');
      out.push(...f.kubernetes!.findings.map((line) => `- ${line}`));
      out.push('');
    }
    out.push('\n</details>\n');
  }
  return out;
}

function safetySection(targets: TargetSummary[], label: (t: TargetSummary) => string): string[] {
  if (!targets.some((t) => t.safety)) return ['## Data safety', '', 'The safety writer did not run: data safety was not verified.', ''];
  const out = ['## Data safety', ''];
  out.push('Every write attempt is logged with its outcome; after recovery each id is read back. *Lost*: acknowledged but missing. *Phantom*: present but never attempted, or present although its attempt definitely failed. *Indeterminate*: the outcome was unknown to the client (timeout or connection lost during commit), resolved by reading back.');
  out.push('');
  out.push(
    table(
      ['target', 'attempted', 'acknowledged', 'failed', 'indeterminate (present/absent)', 'lost', 'phantom', 'duplicated', 'corrupted', 'bank invariant'],
      targets.map((t) => {
        const s = t.safety;
        if (!s) return [label(t), 'not verified', '', '', '', '', '', '', '', ''];
        const bank = s.bank ? (s.bank.violations === 0 && s.bank.negativeBalances === 0 && s.bank.finalTotal === s.bank.expectedTotal ? `held (${s.bank.checks} checks)` : `**violated** (${s.bank.violations} violations)`) : '—';
        return [label(t), fmt(s.attempted, 0), fmt(s.acknowledged, 0), fmt(s.failed, 0), `${s.indeterminate} (${s.indeterminatePresent}/${s.indeterminateAbsent})`, s.lost ? `**${s.lost}**` : '0', String(s.phantom), String(s.duplicated), String(s.corrupted), bank];
      }),
    ),
  );
  out.push('');
  return out;
}

function haSection(targets: TargetSummary[], label: (t: TargetSummary) => string): string[] {
  const ha = targets.filter((t) => t.ha);
  if (!ha.length) return [];
  const out = ['## High availability', ''];
  out.push('Failover timeline per fault cycle, in ms after the injection. *Split-brain writes* were acknowledged by a member that no longer held the leader lock; with a direct access path clients stay on the old primary, with HAProxy they follow the leader.');
  out.push('');
  const since = (at: number | null, from: number) => (at === null ? '—' : fmt(at - from, 0));
  out.push(
    table(
      ['target', 'cycle', 'fault', 'old leader', 'leader lost', 'new leader', 'elected', 'first write on new leader', 'old node rejoined', 'lag caught up'],
      ha.flatMap((t) =>
        t.ha!.failovers.map((f) => [
          label(t),
          String(f.cycle),
          `${f.type} on ${f.node}`,
          f.oldLeader ?? '—',
          since(f.leaderLostAtMs, f.injectedAtMs),
          f.newLeader ?? '—',
          since(f.newLeaderAtMs, f.injectedAtMs),
          since(f.firstWriteOnNewLeaderAtMs, f.injectedAtMs),
          since(f.nodeRejoinedAtMs, f.injectedAtMs),
          since(f.lagBelowThresholdAtMs, f.injectedAtMs),
        ]),
      ),
    ),
  );
  out.push('');
  out.push(
    table(
      ['target', 'split-brain writes', 'two writers at once, ms', 'lost by cause', 'single writer'],
      ha.map((t) => {
        const sb = t.ha!.splitBrain;
        if (!sb) return [label(t), 'not verified (no safety writer)', '', '', ''];
        const causes = Object.entries(sb.lostByCause ?? {}).filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
        return [label(t), sb.splitBrainWrites ? `**${sb.splitBrainWrites}**` : '0', fmt(sb.dualWriterMs, 0), causes, sb.singleWriter.passed ? 'held' : `**violated**: ${sb.singleWriter.message}`];
      }),
    ),
  );
  out.push('');
  return out;
}

interface BulkLoadDetails {
  mibPerSec: number;
  rowsPerSec: number;
  rowsLoaded: number;
  walBytesPerDataByte: number;
  checkpoints: { requested: number; timed: number };
  retries: { retriedChunks: number };
  verification: { exact: boolean };
}
interface AnalyticDetails {
  scaleFactor: number;
  rows: number;
  answersMatch: boolean;
  queries: Record<string, { coldMs: number; warmMs: number; answer: string }>;
}

/** Figures of the big-data workloads, which TPS and per-chunk latency do not say. */
function bigDataSection(targets: TargetSummary[], label: (t: TargetSummary) => string): string[] {
  const out: string[] = [];
  const bulk = targets.flatMap((t) => t.workloads.filter((w) => w.kind === 'bulk-load').map((w) => ({ t, w, d: w.details as unknown as BulkLoadDetails })));
  if (bulk.length) {
    out.push('### Bulk load (COPY)', '');
    out.push(
      table(
        ['target', 'workload', 'MiB/s', 'rows/s', 'rows', 'WAL bytes per data byte', 'checkpoints (requested/timed)', 'retried chunks', 'count and checksum'],
        bulk.map(({ t, w, d }) => [label(t), w.name, fmt(d.mibPerSec), fmt(d.rowsPerSec, 0), fmt(d.rowsLoaded, 0), fmt(d.walBytesPerDataByte, 3), `${d.checkpoints?.requested ?? '—'}/${d.checkpoints?.timed ?? '—'}`, String(d.retries?.retriedChunks ?? 0), d.verification?.exact ? 'exact' : '**mismatch**']),
      ),
      '',
    );
    out.push(
      'Per target over its completed repetitions: geometric mean (min–max, n). One load is one observation; n=1 has no spread.',
      '',
      table(
        ['target', 'workload', 'MiB/s', 'rows/s', 'WAL bytes per data byte'],
        overRepetitions(bulk).map(({ name, workload, ds }) => [
          name,
          workload,
          valuesCell(ds.map((d) => d.mibPerSec), 'MiB/s'),
          valuesCell(ds.map((d) => d.rowsPerSec), 'rows/s', 0),
          valuesCell(ds.map((d) => d.walBytesPerDataByte), '×', 3),
        ]),
      ),
      '',
    );
  }
  const analytic = targets.flatMap((t) => t.workloads.filter((w) => w.kind === 'analytic').map((w) => ({ t, w, d: w.details as unknown as AnalyticDetails })));
  if (analytic.length) {
    const queries = [...new Set(analytic.flatMap(({ d }) => Object.keys(d.queries ?? {})))];
    out.push('### Analytic queries (cold / warm ms)', '');
    out.push(
      table(
        ['target', 'workload', 'scale factor', ...queries, 'answers'],
        analytic.map(({ t, w, d }) => [
          label(t),
          w.name,
          String(d.scaleFactor),
          ...queries.map((q) => (d.queries?.[q] ? `${fmt(d.queries[q].coldMs, 1)} / ${fmt(d.queries[q].warmMs, 1)}` : '—')),
          d.answersMatch ? 'match' : '**wrong**',
        ]),
      ),
      '',
    );
    out.push(
      'Per target over its completed repetitions, cold and warm separately: geometric mean in ms (min–max, n).',
      '',
      table(
        ['target', 'workload', ...queries.flatMap((q) => [`${q} cold`, `${q} warm`])],
        overRepetitions(analytic).map(({ name, workload, ds }) => [
          name,
          workload,
          ...queries.flatMap((q) => {
            const runs = ds.flatMap((d) => (d.queries?.[q] ? [d.queries[q]] : []));
            return [valuesCell(runs.map((r) => r.coldMs), 'ms'), valuesCell(runs.map((r) => r.warmMs), 'ms')];
          }),
        ]),
      ),
      '',
    );
  }
  return out;
}

/** The details of one workload grouped by target name, completed repetitions only, in first-seen order. */
function overRepetitions<D>(rows: Array<{ t: TargetSummary; w: { name: string }; d: D }>): Array<{ name: string; workload: string; ds: D[] }> {
  const groups = new Map<string, { name: string; workload: string; ds: D[] }>();
  for (const { t, w, d } of rows) {
    if (t.status !== 'completed' || !d) continue;
    const key = `${t.name}\u0000${w.name}`;
    if (!groups.has(key)) groups.set(key, { name: t.name, workload: w.name, ds: [] });
    groups.get(key)!.ds.push(d);
  }
  return [...groups.values()];
}
