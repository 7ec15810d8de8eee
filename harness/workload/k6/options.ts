// k6 `options` → the scenarios the built-in runner executes. Follows k6's documented rules: the
// shortcut options (vus, duration, iterations, stages) become one scenario named `default`; explicit
// `options.scenarios` are used as written; command-line style overrides (statebench's `vus` and
// `duration`) replace everything with one constant-vus scenario, as `k6 run --vus --duration` does.
// Pure: no I/O, so every rule is unit-tested.
import { StatebenchError, EXIT } from '../../errors.ts';

export class K6OptionsError extends StatebenchError {
  constructor(message: string) {
    super(message, EXIT.usage, 'See the executors and options the built-in runner supports in workloads/k6/README.md, or use runner: k6');
  }
}

export type Executor = 'constant-vus' | 'ramping-vus' | 'constant-arrival-rate' | 'shared-iterations' | 'per-vu-iterations';
export const SUPPORTED_EXECUTORS: readonly Executor[] = ['constant-vus', 'ramping-vus', 'constant-arrival-rate', 'shared-iterations', 'per-vu-iterations'];

export interface Stage {
  durationMs: number;
  target: number;
}

export interface ScenarioPlan {
  name: string;
  executor: Executor;
  /** Exported function each iteration calls. */
  exec: string;
  startTimeMs: number;
  gracefulStopMs: number;
  env: Record<string, string>;
  tags: Record<string, string>;
  /** constant-vus, shared-iterations, per-vu-iterations. */
  vus: number;
  /** constant-vus, constant-arrival-rate. */
  durationMs: number;
  /** shared-iterations (total), per-vu-iterations (each VU). */
  iterations: number;
  /** shared-iterations, per-vu-iterations: hard limit. */
  maxDurationMs: number;
  /** ramping-vus. */
  startVUs: number;
  stages: Stage[];
  gracefulRampDownMs: number;
  /** constant-arrival-rate: `rate` iterations per `timeUnitMs`. */
  rate: number;
  timeUnitMs: number;
  preAllocatedVUs: number;
  maxVUs: number;
}

export interface ThresholdPlan {
  /** As written: `p(95)<200`. */
  source: string;
  abortOnFail: boolean;
  delayAbortEvalMs: number;
}

export interface RunPlan {
  scenarios: ScenarioPlan[];
  /** Metric key (`name` or `name{tag:value}`) → its thresholds. */
  thresholds: Record<string, ThresholdPlan[]>;
  setupTimeoutMs: number;
  teardownTimeoutMs: number;
  minIterationDurationMs: number;
  tags: Record<string, string>;
  summaryTrendStats: string[];
}

export interface Overrides {
  vus?: number;
  durationMs?: number;
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A k6 duration: a Go duration string ("1m30s", "500ms", "1.5s") or a number of milliseconds. */
export function parseK6Duration(v: unknown, what: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new K6OptionsError(`${what}: duration must be a non-negative number of milliseconds, got ${v}`);
    return v;
  }
  if (typeof v !== 'string') throw new K6OptionsError(`${what}: expected a duration like "30s", got ${JSON.stringify(v)}`);
  const text = v.trim();
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new K6OptionsError(`${what}: invalid duration "${v}"; use e.g. "30s", "1m30s", "500ms"`);
    total += Number(m[1]) * GO_UNITS[m[2]];
    at = re.lastIndex;
  }
  if (at === 0) throw new K6OptionsError(`${what}: invalid duration "${v}"; use e.g. "30s", "1m30s", "500ms"`);
  return total;
}

function int(v: unknown, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new K6OptionsError(`${what}: expected a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function strRecord(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new K6OptionsError(`${what}: expected an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = String(x);
  return out;
}

function stages(v: unknown, what: string): Stage[] {
  if (!Array.isArray(v) || v.length === 0) throw new K6OptionsError(`${what}: at least one stage {duration, target} is required`);
  return v.map((s, i) => {
    if (!s || typeof s !== 'object') throw new K6OptionsError(`${what}[${i}]: expected {duration, target}`);
    const st = s as { duration?: unknown; target?: unknown };
    return { durationMs: parseK6Duration(st.duration, `${what}[${i}].duration`), target: int(st.target, `${what}[${i}].target`) };
  });
}

/** Options k6 knows that do not change what a SQL script does; the built-in runner accepts and ignores them. */
const IGNORED_OPTIONS = new Set([
  'batch',
  'batchPerHost',
  'blacklistIPs',
  'blockHostnames',
  'cloud',
  'discardResponseBodies',
  'dns',
  'ext',
  'hosts',
  'httpDebug',
  'insecureSkipTLSVerify',
  'localIPs',
  'maxRedirects',
  'noConnectionReuse',
  'noCookiesReset',
  'noVUConnectionReuse',
  'summaryTimeUnit',
  'systemTags',
  'throw',
  'tlsAuth',
  'tlsCipherSuites',
  'tlsVersion',
  'userAgent',
  'noUsageReport',
  'console',
  'consoleOutput',
  'linger',
  'quiet',
]);
const HANDLED = new Set(['vus', 'duration', 'iterations', 'stages', 'scenarios', 'thresholds', 'tags', 'minIterationDuration', 'summaryTrendStats', 'setupTimeout', 'teardownTimeout']);

const COMMON_KEYS = ['executor', 'startTime', 'gracefulStop', 'exec', 'env', 'tags'];
const EXECUTOR_KEYS: Record<Executor, string[]> = {
  'constant-vus': ['vus', 'duration'],
  'ramping-vus': ['startVUs', 'stages', 'gracefulRampDown'],
  'constant-arrival-rate': ['rate', 'timeUnit', 'duration', 'preAllocatedVUs', 'maxVUs'],
  'shared-iterations': ['vus', 'iterations', 'maxDuration'],
  'per-vu-iterations': ['vus', 'iterations', 'maxDuration'],
};

function blank(name: string, executor: Executor): ScenarioPlan {
  return {
    name,
    executor,
    exec: 'default',
    startTimeMs: 0,
    gracefulStopMs: 30_000,
    env: {},
    tags: {},
    vus: 1,
    durationMs: 0,
    iterations: 1,
    maxDurationMs: 600_000,
    startVUs: 1,
    stages: [],
    gracefulRampDownMs: 30_000,
    rate: 0,
    timeUnitMs: 1000,
    preAllocatedVUs: 0,
    maxVUs: 0,
  };
}

function scenarioFrom(name: string, raw: unknown): ScenarioPlan {
  const where = `options.scenarios.${name}`;
  if (!/^[0-9A-Za-z_-]+$/.test(name)) throw new K6OptionsError(`${where}: scenario names may only contain letters, digits, _ and -`);
  if (!raw || typeof raw !== 'object') throw new K6OptionsError(`${where}: expected an object`);
  const r = raw as Record<string, unknown>;
  const executor = r.executor;
  if (typeof executor !== 'string') throw new K6OptionsError(`${where}.executor is required`);
  if (!(SUPPORTED_EXECUTORS as readonly string[]).includes(executor)) {
    throw new K6OptionsError(`${where}.executor "${executor}" is not supported by the built-in runner (supported: ${SUPPORTED_EXECUTORS.join(', ')}); run this script with k6`);
  }
  const ex = executor as Executor;
  for (const k of Object.keys(r)) {
    if (!COMMON_KEYS.includes(k) && !EXECUTOR_KEYS[ex].includes(k)) throw new K6OptionsError(`${where}.${k} is not an option of the ${ex} executor (allowed: ${[...COMMON_KEYS, ...EXECUTOR_KEYS[ex]].join(', ')})`);
  }
  const s = blank(name, ex);
  if (r.exec !== undefined) {
    if (typeof r.exec !== 'string' || !r.exec) throw new K6OptionsError(`${where}.exec must name an exported function`);
    s.exec = r.exec;
  }
  if (r.startTime !== undefined) s.startTimeMs = parseK6Duration(r.startTime, `${where}.startTime`);
  if (r.gracefulStop !== undefined) s.gracefulStopMs = parseK6Duration(r.gracefulStop, `${where}.gracefulStop`);
  s.env = strRecord(r.env, `${where}.env`);
  s.tags = strRecord(r.tags, `${where}.tags`);
  switch (ex) {
    case 'constant-vus':
      s.vus = r.vus === undefined ? 1 : int(r.vus, `${where}.vus`, 1);
      if (r.duration === undefined) throw new K6OptionsError(`${where}.duration is required for constant-vus`);
      s.durationMs = parseK6Duration(r.duration, `${where}.duration`);
      break;
    case 'ramping-vus':
      s.startVUs = r.startVUs === undefined ? 1 : int(r.startVUs, `${where}.startVUs`);
      s.stages = stages(r.stages, `${where}.stages`);
      if (r.gracefulRampDown !== undefined) s.gracefulRampDownMs = parseK6Duration(r.gracefulRampDown, `${where}.gracefulRampDown`);
      if (Math.max(s.startVUs, ...s.stages.map((x) => x.target)) < 1) throw new K6OptionsError(`${where}: startVUs or a stage target must be greater than 0`);
      break;
    case 'constant-arrival-rate':
      s.rate = int(r.rate, `${where}.rate`, 1);
      if (r.timeUnit !== undefined) s.timeUnitMs = parseK6Duration(r.timeUnit, `${where}.timeUnit`);
      if (s.timeUnitMs <= 0) throw new K6OptionsError(`${where}.timeUnit must be greater than 0`);
      if (r.duration === undefined) throw new K6OptionsError(`${where}.duration is required for constant-arrival-rate`);
      s.durationMs = parseK6Duration(r.duration, `${where}.duration`);
      s.preAllocatedVUs = int(r.preAllocatedVUs, `${where}.preAllocatedVUs`, 1);
      s.maxVUs = r.maxVUs === undefined ? s.preAllocatedVUs : int(r.maxVUs, `${where}.maxVUs`, 1);
      if (s.maxVUs < s.preAllocatedVUs) throw new K6OptionsError(`${where}.maxVUs (${s.maxVUs}) must not be below preAllocatedVUs (${s.preAllocatedVUs})`);
      break;
    case 'shared-iterations':
    case 'per-vu-iterations':
      s.vus = r.vus === undefined ? 1 : int(r.vus, `${where}.vus`, 1);
      s.iterations = r.iterations === undefined ? 1 : int(r.iterations, `${where}.iterations`, 1);
      if (r.maxDuration !== undefined) s.maxDurationMs = parseK6Duration(r.maxDuration, `${where}.maxDuration`);
      if (ex === 'shared-iterations' && s.iterations < s.vus) s.vus = s.iterations;
      break;
  }
  return s;
}

function thresholdsFrom(raw: unknown): Record<string, ThresholdPlan[]> {
  if (raw === undefined) return {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new K6OptionsError('options.thresholds: expected an object of metric → [expressions]');
  const out: Record<string, ThresholdPlan[]> = {};
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const list = Array.isArray(v) ? v : [v];
    out[key] = list.map((t, i) => {
      if (typeof t === 'string') return { source: t, abortOnFail: false, delayAbortEvalMs: 0 };
      if (t && typeof t === 'object' && typeof (t as { threshold?: unknown }).threshold === 'string') {
        const o = t as { threshold: string; abortOnFail?: unknown; delayAbortEval?: unknown };
        return {
          source: o.threshold,
          abortOnFail: o.abortOnFail === true,
          delayAbortEvalMs: o.delayAbortEval === undefined ? 0 : parseK6Duration(o.delayAbortEval, `options.thresholds.${key}[${i}].delayAbortEval`),
        };
      }
      throw new K6OptionsError(`options.thresholds.${key}[${i}]: expected "p(95)<200" or {threshold, abortOnFail}`);
    });
  }
  return out;
}

/** Turns a script's exported `options` (and statebench overrides) into the scenarios to run. */
export function planRun(options: Record<string, unknown> | undefined, overrides: Overrides = {}): RunPlan {
  const o = options ?? {};
  for (const k of Object.keys(o)) {
    if (!HANDLED.has(k) && !IGNORED_OPTIONS.has(k)) {
      throw new K6OptionsError(`options.${k} is not supported by the built-in runner; remove it or run this script with k6`);
    }
  }
  const plan: RunPlan = {
    scenarios: [],
    thresholds: thresholdsFrom(o.thresholds),
    setupTimeoutMs: o.setupTimeout === undefined ? 60_000 : parseK6Duration(o.setupTimeout, 'options.setupTimeout'),
    teardownTimeoutMs: o.teardownTimeout === undefined ? 60_000 : parseK6Duration(o.teardownTimeout, 'options.teardownTimeout'),
    minIterationDurationMs: o.minIterationDuration === undefined ? 0 : parseK6Duration(o.minIterationDuration, 'options.minIterationDuration'),
    tags: strRecord(o.tags, 'options.tags'),
    summaryTrendStats: Array.isArray(o.summaryTrendStats) ? o.summaryTrendStats.map(String) : ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)'],
  };
  const vus = o.vus === undefined ? undefined : int(o.vus, 'options.vus', 1);

  if (overrides.vus !== undefined || overrides.durationMs !== undefined) {
    // `k6 run --vus N --duration D`: the command line wins over the script's scenarios.
    const s = blank('default', 'constant-vus');
    s.vus = overrides.vus ?? vus ?? 1;
    const d = overrides.durationMs ?? (o.duration === undefined ? undefined : parseK6Duration(o.duration, 'options.duration'));
    if (d === undefined) throw new K6OptionsError('a vus override needs a duration: set the workload duration, or options.duration in the script');
    s.durationMs = d;
    plan.scenarios.push(s);
    return plan;
  }

  if (o.scenarios !== undefined) {
    for (const k of ['duration', 'iterations', 'stages'] as const) {
      if (o[k] !== undefined) throw new K6OptionsError(`options.${k} cannot be combined with options.scenarios; move it into a scenario`);
    }
    if (!o.scenarios || typeof o.scenarios !== 'object') throw new K6OptionsError('options.scenarios: expected an object of name → scenario');
    for (const [name, raw] of Object.entries(o.scenarios as Record<string, unknown>)) plan.scenarios.push(scenarioFrom(name, raw));
    if (!plan.scenarios.length) throw new K6OptionsError('options.scenarios is empty');
    return plan;
  }

  if (o.stages !== undefined) {
    const s = blank('default', 'ramping-vus');
    s.stages = stages(o.stages, 'options.stages');
    s.startVUs = vus ?? 1;
    plan.scenarios.push(s);
  } else if (o.iterations !== undefined) {
    const s = blank('default', 'shared-iterations');
    s.iterations = int(o.iterations, 'options.iterations', 1);
    s.vus = Math.min(vus ?? 1, s.iterations);
    if (o.duration !== undefined) s.maxDurationMs = parseK6Duration(o.duration, 'options.duration');
    plan.scenarios.push(s);
  } else if (o.duration !== undefined) {
    const s = blank('default', 'constant-vus');
    s.vus = vus ?? 1;
    s.durationMs = parseK6Duration(o.duration, 'options.duration');
    plan.scenarios.push(s);
  } else {
    // Nothing set: k6 runs one iteration with one VU.
    const s = blank('default', 'shared-iterations');
    s.vus = 1;
    s.iterations = 1;
    plan.scenarios.push(s);
  }
  return plan;
}

/** VUs a scenario can have at once. */
export function scenarioMaxVus(s: ScenarioPlan): number {
  switch (s.executor) {
    case 'ramping-vus':
      return Math.max(s.startVUs, ...s.stages.map((x) => x.target));
    case 'constant-arrival-rate':
      return s.maxVUs;
    default:
      return s.vus;
  }
}

/** VUs initialized before the scenario starts (arrival-rate executors add the rest on demand). */
export function scenarioInitialVus(s: ScenarioPlan): number {
  return s.executor === 'constant-arrival-rate' ? s.preAllocatedVUs : scenarioMaxVus(s);
}

/** Planned length of a scenario from its start (without graceful stop); iteration-count executors: their maxDuration. */
export function scenarioDurationMs(s: ScenarioPlan): number {
  switch (s.executor) {
    case 'ramping-vus':
      return s.stages.reduce((a, x) => a + x.durationMs, 0);
    case 'constant-vus':
    case 'constant-arrival-rate':
      return s.durationMs;
    default:
      return s.maxDurationMs;
  }
}

/** Longest the whole run may take: each scenario's start + length + graceful stop. */
export function planMaxDurationMs(plan: RunPlan): number {
  return Math.max(...plan.scenarios.map((s) => s.startTimeMs + scenarioDurationMs(s) + s.gracefulStopMs + (s.executor === 'ramping-vus' ? s.gracefulRampDownMs : 0)));
}

/**
 * Active VUs a ramping-vus scenario wants `elapsedMs` after it started: linear between stage targets,
 * a VU is added when the line crosses the next whole number going up and removed when it crosses it
 * going down, as k6 does.
 */
export function rampingTarget(s: Pick<ScenarioPlan, 'startVUs' | 'stages'>, elapsedMs: number): number {
  let from = s.startVUs;
  let t = elapsedMs;
  for (const st of s.stages) {
    if (t < st.durationMs) {
      const v = from + ((st.target - from) * t) / st.durationMs;
      return st.target >= from ? Math.floor(v + 1e-9) : Math.ceil(v - 1e-9);
    }
    t -= st.durationMs;
    from = st.target;
  }
  return from;
}

/** Iterations a constant-arrival-rate scenario starts: one every timeUnit/rate, from 0 to before the end. */
export function arrivalCount(s: Pick<ScenarioPlan, 'rate' | 'timeUnitMs' | 'durationMs'>): number {
  // Integer arithmetic: iteration k starts at k * timeUnit / rate; count k with k * timeUnit < duration * rate.
  return Math.ceil((s.durationMs * s.rate) / s.timeUnitMs - 1e-9);
}
