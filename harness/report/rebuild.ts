// A partial summary from what a run streamed, for a run directory without a usable summary.json (the
// run was SIGKILLed before its first target ended, or the file is truncated). Everything in it comes
// from events.jsonl, samples.jsonl, plan.json and env.json; what cannot be rebuilt (checks, fault
// recovery, data safety) is left out, and every target says it was rebuilt.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '../core/jsonl.ts';
import { decode, latencyMs, newHistogram } from '../measure/histogram.ts';
import { SUMMARY_SCHEMA_VERSION, Summary, type TargetSummary, type WorkloadSummary } from '../model/summary.ts';
import { checkEvent, checkSample, type RunEvent, type SecondSample } from './html/run-data.ts';
import { EXIT, StatebenchError } from '../errors.ts';

const REBUILT = 'rebuilt from events.jsonl and samples.jsonl: the run ended before it wrote this target to summary.json';

function readJson(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
};

function workloadFrom(name: string, kind: string, seconds: SecondSample[]): WorkloadSummary {
  const tps = seconds.map((s) => s.tps);
  const transactions = Math.round(tps.reduce((a, b) => a + b, 0));
  const errorsByKind: Record<string, number> = {};
  for (const s of seconds) for (const [k, v] of Object.entries(s.errorsByKind ?? {})) errorsByKind[k] = (errorsByKind[k] ?? 0) + Math.round(v);
  // Per-second HDR histograms add up to the whole phase exactly; without them, per-second figures
  // are combined (and the details say so).
  const hist = newHistogram();
  let histSeconds = 0;
  for (const s of seconds) {
    if (!s.hist) continue;
    try {
      hist.add(decode(s.hist));
      histSeconds++;
    } catch {
      /* an undecodable histogram: the per-second figures still count */
    }
  }
  const exact = histSeconds === seconds.length && seconds.length > 0;
  const latency = exact
    ? latencyMs(hist)
    : {
        p50: median(seconds.map((s) => s.latencyMs.p50)),
        p95: median(seconds.map((s) => s.latencyMs.p95)),
        p99: median(seconds.map((s) => s.latencyMs.p99)),
        max: Math.max(0, ...seconds.map((s) => s.latencyMs.max)),
        mean: median(seconds.map((s) => s.latencyMs.mean)),
        min: Math.min(...seconds.map((s) => s.latencyMs.min), Number.POSITIVE_INFINITY) === Number.POSITIVE_INFINITY ? 0 : Math.min(...seconds.map((s) => s.latencyMs.min)),
      };
  const sorted = [...tps].sort((a, b) => a - b);
  return {
    name,
    kind,
    tps: tps.length ? transactions / tps.length : 0,
    transactions,
    errors: Math.round(seconds.reduce((a, s) => a + s.errors, 0)),
    errorsByKind,
    latencyMs: latency,
    tpsPerSecond: sorted.length ? { min: sorted[0], median: median(sorted), p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))], max: sorted.at(-1)!, count: sorted.length } : undefined,
    durationMs: seconds.length * 1000,
    clients: 0,
    details: { rebuilt: true, seconds: seconds.length, latency: exact ? 'from the per-second HDR histograms' : 'medians of per-second percentiles (no histograms)' },
  };
}

/** The partial summary of `dir`; throws when the directory holds no streamed results at all. */
export function rebuildSummary(dir: string): Summary {
  const events = readJsonl<RunEvent>(join(dir, 'events.jsonl'), checkEvent);
  const samples = readJsonl<SecondSample>(join(dir, 'samples.jsonl'), checkSample);
  const plan = readJson(join(dir, 'plan.json'));
  if (!events.records.length && !plan) {
    throw new StatebenchError(`${dir} has neither a summary.json nor events.jsonl or plan.json to rebuild one from`, EXIT.usage, 'Pass a run directory written by `statebench run`.');
  }
  const env = readJson(join(dir, 'env.json')) ?? {};
  const start = events.records.find((e) => e.type === 'run-start');
  const planTargets = (Array.isArray(plan?.targets) ? plan.targets : []) as { name?: string; platform?: string; storage?: Record<string, unknown>; engine?: { kind?: string; settings?: Record<string, unknown> }; workloads?: { name?: string; spec?: { kind?: string } }[] }[];
  const names = [...new Set([...planTargets.map((t) => t.name).filter((n): n is string => typeof n === 'string'), ...events.records.filter((e) => e.type === 'target-start' && e.target).map((e) => e.target as string)])];

  const targets: TargetSummary[] = names
    .filter((name) => events.records.some((e) => e.target === name))
    .map((name) => {
      const pt = planTargets.find((t) => t.name === name);
      const ev = events.records.filter((e) => e.target === name);
      const end = ev.find((e) => e.type === 'target-end');
      const version = ev.find((e) => e.type === 'engine-ready')?.version;
      const workloadNames = [...new Set([...(pt?.workloads ?? []).map((w) => w.name).filter((n): n is string => !!n), ...samples.records.filter((s) => s.target === name).map((s) => s.workload)])];
      const workloads = workloadNames
        .map((w) => ({ w, seconds: samples.records.filter((s) => s.target === name && s.workload === w) }))
        .filter(({ seconds }) => seconds.length)
        .map(({ w, seconds }) => workloadFrom(w, pt?.workloads?.find((x) => x.name === w)?.spec?.kind ?? 'unknown', seconds));
      const status = end?.status === 'completed' || end?.status === 'failed' ? (end.status as 'completed' | 'failed') : 'interrupted';
      const storage = pt?.storage ?? (ev.find((e) => e.type === 'target-start')?.storage as Record<string, unknown> | undefined) ?? {};
      return {
        name,
        platform: pt?.platform ?? String(ev.find((e) => e.type === 'target-start')?.platform ?? 'unknown'),
        storage: String(storage.kind ?? 'unknown'),
        storageSpec: storage,
        engine: { kind: pt?.engine?.kind ?? 'unknown', version: typeof version === 'string' ? version : undefined, settings: pt?.engine?.settings ?? {} },
        status,
        error: [typeof end?.error === 'string' ? end.error : undefined, REBUILT].filter(Boolean).join('; '),
        workloads,
        faults: [],
        checks: [],
      };
    });

  const walls = events.records.map((e) => e.wall).filter(Boolean);
  return Summary.parse({
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    runId: String(plan?.runId ?? start?.runId ?? 'unknown'),
    profile: String(plan?.profile ?? start?.profile ?? 'unknown'),
    baseline: String(plan?.baseline ?? targets[0]?.name ?? ''),
    startedAt: walls[0] ?? '',
    finishedAt: walls.at(-1) ?? '',
    // The run never wrote its final summary: it did not finish.
    status: 'interrupted',
    environment: env,
    targets,
    malformedLines: events.rejected.length + samples.rejected.length,
  });
}
