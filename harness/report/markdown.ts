// report.md: verdict, target matrix with ratios to the baseline, checks, environment. Suitable for
// $GITHUB_STEP_SUMMARY. Every figure carries its unit; what was not measured says so.
import type { Summary, TargetSummary } from '../model/summary.ts';
import { ioComparable } from '../io/types.ts';

const fmt = (v: number | undefined | null, digits = 2) => (v === undefined || v === null ? '—' : Number(v.toFixed(digits)).toLocaleString('en-US'));

function ratio(value: number | undefined | null, base: number | undefined | null): string {
  if (value === undefined || value === null || !base) return '';
  return ` (${(value / base).toFixed(2)}×)`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: string[], rows: string[][]): string {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
}

export function renderMarkdown(s: Summary): string {
  const base = s.targets.find((t) => t.name === s.baseline) ?? s.targets[0];
  const checks = s.targets.flatMap((t) => t.checks.map((c) => ({ target: t.name, ...c })));
  const failed = checks.filter((c) => !c.passed);
  const out: string[] = [];
  out.push(`# statebench: ${s.profile}`);
  out.push('');
  out.push(`Run \`${s.runId}\` · ${s.startedAt} → ${s.finishedAt} · status **${s.status}** · baseline \`${base?.name ?? '—'}\``);
  out.push('');
  const verdict =
    s.status !== 'completed'
      ? `**${s.status.toUpperCase()}**: ${s.targets.filter((t) => t.error).map((t) => `${t.name}: ${t.error}`).join('; ') || 'the run did not finish'}`
      : checks.length === 0
        ? 'No conformance checks were configured.'
        : failed.length
          ? `**FAIL**: ${failed.length} of ${checks.length} checks failed (${failed.map((c) => `${c.target} ${c.name}`).join(', ')})`
          : `**PASS**: all ${checks.length} checks passed`;
  out.push(`## Verdict\n\n${verdict}`);
  out.push('');

  out.push('## Targets');
  out.push('');
  out.push('Ratios in parentheses are against the baseline target.');
  out.push('');
  out.push(
    table(
      ['target', 'status', 'I/O tool', 'rand 4k write IOPS', 'seq write MiB/s', 'fdatasync p50 ms', 'fdatasync p99 ms'],
      s.targets.map((t) => {
        // A ratio between figures from fio and from the built-in probe would measure the tools.
        const ioRatio = t === base || ioComparable(t.io, base?.io).comparable ? ratio : () => (t.io && base?.io ? ' (not comparable: other tool)' : '');
        return [
          t.name,
          t.status,
          t.io?.tool ?? 'not measured',
          fmt(t.io?.randWriteIops, 0) + ioRatio(t.io?.randWriteIops, base?.io?.randWriteIops),
          fmt(t.io?.seqWriteMiBps) + ioRatio(t.io?.seqWriteMiBps, base?.io?.seqWriteMiBps),
          fmt(t.io?.fsyncLatencyMs.p50, 3) + ioRatio(t.io?.fsyncLatencyMs.p50, base?.io?.fsyncLatencyMs.p50),
          fmt(t.io?.fsyncLatencyMs.p99, 3) + ioRatio(t.io?.fsyncLatencyMs.p99, base?.io?.fsyncLatencyMs.p99),
        ];
      }),
    ),
  );
  out.push('');

  const workloadNames = [...new Set(s.targets.flatMap((t) => t.workloads.map((w) => w.name)))];
  for (const name of workloadNames) {
    const bw = base?.workloads.find((w) => w.name === name);
    out.push(`### Workload \`${name}\``);
    out.push('');
    out.push(
      table(
        ['target', 'TPS', 'TPS/s min–median–max', 'transactions', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        s.targets.map((t) => {
          const w = t.workloads.find((x) => x.name === name);
          if (!w) return [t.name, 'not run', '', '', '', '', '', '', ''];
          return [
            t.name,
            fmt(w.tps, 1) + ratio(w.tps, bw?.tps),
            w.tpsPerSecond ? `${w.tpsPerSecond.min}–${w.tpsPerSecond.median}–${w.tpsPerSecond.max} (n=${w.tpsPerSecond.count})` : '—',
            fmt(w.transactions, 0),
            w.errors ? `${w.errors} (${Object.entries(w.errorsByKind).map(([k, v]) => `${k} ${v}`).join(', ')})` : '0',
            fmt(w.latencyMs.p50, 3) + ratio(w.latencyMs.p50, bw?.latencyMs.p50),
            fmt(w.latencyMs.p95, 3) + ratio(w.latencyMs.p95, bw?.latencyMs.p95),
            fmt(w.latencyMs.p99, 3) + ratio(w.latencyMs.p99, bw?.latencyMs.p99),
            fmt(w.latencyMs.max, 3),
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

  out.push(...bigDataSection(s.targets));
  out.push(...recoverySection(s.targets, base));
  out.push(...safetySection(s.targets));
  out.push(...haSection(s.targets));

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
  out.push(
    table(
      ['fact', 'value'],
      [
        ['statebench', String(e.statebench)],
        ['node', String(e.node)],
        ['kernel', String(e.kernel)],
        ['CPU', `${e.cpuModel} × ${e.cpus}`],
        ['memory', `${fmt(Number(e.memoryBytes) / 1024 ** 3, 1)} GiB`],
        ...s.targets.map((t) => [`engine on ${t.name}`, t.engine.version ?? 'not started']),
        ...Object.entries((e.tools as Record<string, string | null>) ?? {}).map(([k, v]) => [k, v ?? 'not installed']),
      ],
    ),
  );
  out.push('');
  return out.join('\n');
}

function recoverySection(targets: TargetSummary[], base?: TargetSummary): string[] {
  if (!targets.some((t) => t.faults.length)) return ['## Recovery', '', 'No faults were scheduled: recovery was not measured.', ''];
  const out = ['## Recovery', ''];
  out.push(
    table(
      ['target', 'faults', 'recovered', 'fault → first acknowledged write, ms: min–median–p95–max', 'median vs baseline'],
      targets.map((t) => [
        t.name,
        [...new Set(t.faults.map((f) => f.type))].join(', ') || '—',
        `${t.faults.filter((f) => f.recovery.recovered).length}/${t.faults.length}`,
        t.recoveryMs?.count ? `${fmt(t.recoveryMs.min, 0)}–${fmt(t.recoveryMs.median, 0)}–${fmt(t.recoveryMs.p95, 0)}–${fmt(t.recoveryMs.max, 0)} (n=${t.recoveryMs.count})` : 'no cycle saw a write afterwards',
        t.recoveryMs?.count && base?.recoveryMs?.count ? `${(t.recoveryMs.median / base.recoveryMs.median).toFixed(2)}×` : '—',
      ]),
    ),
  );
  out.push('');
  for (const t of targets.filter((x) => x.faults.length)) {
    out.push(`<details><summary>${t.name}: fault cycles</summary>\n`);
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

function safetySection(targets: TargetSummary[]): string[] {
  if (!targets.some((t) => t.safety)) return ['## Data safety', '', 'The safety writer did not run: data safety was not verified.', ''];
  const out = ['## Data safety', ''];
  out.push('Every write attempt is logged with its outcome; after recovery each id is read back. *Lost*: acknowledged but missing. *Phantom*: present but never attempted, or present although its attempt definitely failed. *Indeterminate*: the outcome was unknown to the client (timeout or connection lost during commit), resolved by reading back.');
  out.push('');
  out.push(
    table(
      ['target', 'attempted', 'acknowledged', 'failed', 'indeterminate (present/absent)', 'lost', 'phantom', 'duplicated', 'corrupted', 'bank invariant'],
      targets.map((t) => {
        const s = t.safety;
        if (!s) return [t.name, 'not verified', '', '', '', '', '', '', '', ''];
        const bank = s.bank ? (s.bank.violations === 0 && s.bank.negativeBalances === 0 && s.bank.finalTotal === s.bank.expectedTotal ? `held (${s.bank.checks} checks)` : `**violated** (${s.bank.violations} violations)`) : '—';
        return [t.name, fmt(s.attempted, 0), fmt(s.acknowledged, 0), fmt(s.failed, 0), `${s.indeterminate} (${s.indeterminatePresent}/${s.indeterminateAbsent})`, s.lost ? `**${s.lost}**` : '0', String(s.phantom), String(s.duplicated), String(s.corrupted), bank];
      }),
    ),
  );
  out.push('');
  return out;
}

function haSection(targets: TargetSummary[]): string[] {
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
          t.name,
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
        if (!sb) return [t.name, 'not verified (no safety writer)', '', '', ''];
        const causes = Object.entries(sb.lostByCause ?? {}).filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
        return [t.name, sb.splitBrainWrites ? `**${sb.splitBrainWrites}**` : '0', fmt(sb.dualWriterMs, 0), causes, sb.singleWriter.passed ? 'held' : `**violated**: ${sb.singleWriter.message}`];
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
function bigDataSection(targets: TargetSummary[]): string[] {
  const out: string[] = [];
  const bulk = targets.flatMap((t) => t.workloads.filter((w) => w.kind === 'bulk-load').map((w) => ({ t, w, d: w.details as unknown as BulkLoadDetails })));
  if (bulk.length) {
    out.push('### Bulk load (COPY)', '');
    out.push(
      table(
        ['target', 'workload', 'MiB/s', 'rows/s', 'rows', 'WAL bytes per data byte', 'checkpoints (requested/timed)', 'retried chunks', 'count and checksum'],
        bulk.map(({ t, w, d }) => [t.name, w.name, fmt(d.mibPerSec), fmt(d.rowsPerSec, 0), fmt(d.rowsLoaded, 0), fmt(d.walBytesPerDataByte, 3), `${d.checkpoints?.requested ?? '—'}/${d.checkpoints?.timed ?? '—'}`, String(d.retries?.retriedChunks ?? 0), d.verification?.exact ? 'exact' : '**mismatch**']),
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
          t.name,
          w.name,
          String(d.scaleFactor),
          ...queries.map((q) => (d.queries?.[q] ? `${fmt(d.queries[q].coldMs, 1)} / ${fmt(d.queries[q].warmMs, 1)}` : '—')),
          d.answersMatch ? 'match' : '**wrong**',
        ]),
      ),
      '',
    );
  }
  return out;
}
