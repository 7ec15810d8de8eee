// Everything a report reads from one run directory, loaded once: summary.json (validated against the
// schema), the per-second samples, the events, env.json, the profile and the plan. The HTML report,
// `compare` and `history` all start here so they agree on what a run directory contains.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Summary } from '../../model/summary.ts';
import { readJsonl, type LineCheck } from '../../core/jsonl.ts';
import { SampleLine, EventLine, HostNoiseLine, type RejectedLine } from '../../model/result-lines.ts';
import type { z } from 'zod';
import { EXIT, StatebenchError } from '../../errors.ts';

/** One line of samples.jsonl: one second of one workload on one target. */
export interface SecondSample {
  target: string;
  workload: string;
  second: number;
  /** Run-clock milliseconds at the end of the second. */
  tMs: number;
  tps: number;
  errors: number;
  errorsByKind?: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number; min: number };
  /** Base64 compressed HDR histogram of this second, microseconds. */
  hist?: string;
  /** A last bucket shorter than a second: tps is normalised to per second; skip it where whole seconds matter. */
  partial?: boolean;
  spanMs?: number;
  /** Which repetition of the target; absent means 1. */
  repetition?: number;
}

/** One line of events.jsonl. Fault events carry {type: 'fault-inject' | …, fault, node, cycle}. */
export interface RunEvent {
  tMs: number;
  wall: string;
  target: string | null;
  type: string;
  [key: string]: unknown;
}

export interface RunData {
  dir: string;
  summary: Summary;
  samples: SecondSample[];
  events: RunEvent[];
  /** env.json, or the summary's copy of it when the file is gone. */
  environment: Record<string, unknown>;
  profileYaml?: string;
  plan?: Record<string, unknown>;
  /** Lines that could not be parsed or did not match their schema, per file; a torn last line after a kill is expected. */
  malformed: { samples: number; events: number };
  /** Every rejected line with its file and line number. */
  rejected: RejectedLine[];
}

/** A JSONL line check from a zod schema: the first issue, with its field, is the reason. */
export function schemaCheck<T>(schema: z.ZodType<T>): LineCheck<T> {
  return (value) => {
    const r = schema.safeParse(value);
    if (r.success) return { ok: true, value: r.data };
    const i = r.error.issues[0];
    return { ok: false, reason: `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}` };
  };
}

const checkWorkloadSecond = schemaCheck(SampleLine) as LineCheck<SecondSample>;
const checkHostNoise = schemaCheck(HostNoiseLine);
/** A workload's second is data; a well-formed host-noise line is the stream's other kind; anything else is rejected. */
export const checkSample: LineCheck<SecondSample> = (value) => {
  if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'host') {
    const r = checkHostNoise(value);
    return r.ok === true ? { ok: 'other' } : r.ok === false ? { ok: false, reason: `host-noise line: ${r.reason}` } : r;
  }
  return checkWorkloadSecond(value);
};
export const checkEvent = schemaCheck(EventLine) as LineCheck<RunEvent>;

/** The rejected lines of a run directory's streams (samples.jsonl, events.jsonl). */
export function rejectedLines(dir: string): RejectedLine[] {
  return [...readJsonl(join(dir, 'samples.jsonl'), checkSample).rejected, ...readJsonl(join(dir, 'events.jsonl'), checkEvent).rejected];
}

/** A run directory, or the path of its summary.json. */
export function runDirOf(pathOrDir: string): string {
  const p = resolve(pathOrDir);
  if (existsSync(p) && statSync(p).isFile()) return dirname(p);
  return p;
}

export function readSummary(pathOrDir: string): Summary {
  const p = resolve(pathOrDir);
  const file = existsSync(p) && statSync(p).isFile() ? p : join(p, 'summary.json');
  if (!existsSync(file)) {
    throw new StatebenchError(`${file} does not exist`, EXIT.usage, 'Pass a run directory written by `statebench run`, or its summary.json.');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StatebenchError(`${file} is not valid JSON (${(e as Error).message})`, EXIT.usage, 'A killed or corrupted run: `statebench report <run-dir>` rebuilds a partial summary from events.jsonl and samples.jsonl.');
  }
  const parsed = Summary.safeParse(raw);
  if (!parsed.success) {
    throw new StatebenchError(
      `${file} does not match the summary schema:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
      EXIT.usage,
    );
  }
  return parsed.data;
}

export function loadRun(pathOrDir: string): RunData {
  const summary = readSummary(pathOrDir);
  const dir = runDirOf(pathOrDir);
  const samples = readJsonl<SecondSample>(join(dir, 'samples.jsonl'), checkSample);
  const events = readJsonl<RunEvent>(join(dir, 'events.jsonl'), checkEvent);
  const readText = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined);
  const parseJson = (name: string): Record<string, unknown> | undefined => {
    const text = readText(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  return {
    dir,
    summary,
    samples: samples.records.filter(isSample).sort((a, b) => a.tMs - b.tMs),
    events: events.records.filter((e) => typeof e?.tMs === 'number' && typeof e?.type === 'string'),
    environment: parseJson('env.json') ?? summary.environment,
    profileYaml: readText('profile.yaml'),
    plan: parseJson('plan.json'),
    malformed: { samples: samples.malformed, events: events.malformed },
    rejected: [...samples.rejected, ...events.rejected],
  };
}

function isSample(s: SecondSample): boolean {
  return typeof s?.target === 'string' && typeof s.workload === 'string' && typeof s.tps === 'number' && typeof s.tMs === 'number' && !!s.latencyMs;
}

/** Samples of one target (and repetition, when given; a sample without one is repetition 1). */
export function samplesOf(run: RunData, target: string, workload?: string, repetition?: number): SecondSample[] {
  return run.samples.filter((s) => s.target === target && (workload === undefined || s.workload === workload) && (repetition === undefined || (s.repetition ?? 1) === repetition));
}

/** The directory under targets/ holding one repetition's artifacts. */
export { repetitionSlug as artifactsSlug } from '../../model/plan.ts';

/** The target ratios are computed against: the named baseline, else the first target. */
export function baselineOf(summary: Summary) {
  return summary.targets.find((t) => t.name === summary.baseline) ?? summary.targets[0];
}
