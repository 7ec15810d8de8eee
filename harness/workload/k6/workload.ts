// A k6 script as a statebench workload. The runner is `k6` (the real binary with xk6-sql), `builtin`
// (statebench's runner, see builtin.ts) or `auto` (k6 when a suitable one is installed).
//
// Results: one iteration is one transaction. Iterations that ended in the warmup are left out; a
// failed iteration (the script added to `statebench_errors`, or the iteration threw) is an error of
// its kind; the others are committed transactions with the iteration's duration as latency. Samples
// and the summary have the fields of the native workloads; k6's own figures (thresholds, checks,
// all metrics in --summary-export shape) go to details.
//
// load() checks the script and runs its setup() (the built-in runner keeps the setup data for run());
// with k6, setup() runs inside `k6 run`, so load() only checks that the script and k6 are there.
// The DSN handed to the script is taken when the run starts; a script's own connections then follow
// that address (reconnecting after a restart, as xk6-sql does), not a later change of primary.
import { resolveEnv } from '../../core/secrets.ts';
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConnInfo } from '../../engine/types.ts';
import type { WorkloadSummary } from '../../model/summary.ts';
import { StatebenchError, EXIT } from '../../errors.ts';
import { PhaseRecorder } from '../recorder.ts';
import type { Workload, WorkloadRuntime } from '../types.ts';
import { K6Session, type BuiltinResult } from './builtin.ts';
import type { RunPlan } from './options.ts';
import { probeK6, runK6Binary, K6_INSTALL_HINT, K6_EXIT_OK, type K6BinaryInfo } from './k6-binary.ts';
import { measuredPhase, parseSummaryExport } from './normalize.ts';
import type { K6Runner, K6WorkloadSpec } from '../../model/k6.ts';

export interface K6WorkloadOptions {
  /** Where k6's summary and points files are kept; a temporary directory (removed) otherwise. */
  artifactsDir?: string;
  /** k6 binary; default STATEBENCH_K6 or `k6` on PATH. */
  k6Binary?: string;
}

/** postgres:// URL for xk6-sql-driver-postgres (lib/pq). */
export function dsnFor(conn: ConnInfo): string {
  const auth = encodeURIComponent(conn.user) + (conn.password ? `:${encodeURIComponent(conn.password)}` : '');
  return `postgres://${auth}@${conn.host}:${conn.port}/${encodeURIComponent(conn.database)}?sslmode=disable`;
}

/** Picks the runner: `auto` takes k6 only when it has both xk6-sql and the postgres driver. */
export async function selectRunner(runner: K6Runner, bin?: string): Promise<{ runner: 'k6' | 'builtin'; k6?: K6BinaryInfo; reason: string }> {
  if (runner === 'builtin') return { runner: 'builtin', reason: 'runner: builtin' };
  const k6 = await probeK6(bin);
  const usable = !!k6 && k6.sql && k6.postgres;
  if (runner === 'k6') {
    if (!k6) throw new StatebenchError(`runner: k6, but no k6 binary was found (${bin ?? process.env.STATEBENCH_K6 ?? 'k6 on PATH'})`, EXIT.environment, K6_INSTALL_HINT);
    if (!usable) {
      const missing = [!k6.sql && 'k6/x/sql', !k6.postgres && 'k6/x/sql/driver/postgres'].filter(Boolean).join(' and ');
      throw new StatebenchError(`runner: k6, but ${k6.path} (${k6.version}) lacks ${missing}`, EXIT.environment, K6_INSTALL_HINT);
    }
    return { runner: 'k6', k6, reason: `runner: k6 (${k6.version})` };
  }
  if (usable) return { runner: 'k6', k6, reason: `k6 ${k6!.version} with xk6-sql found` };
  return { runner: 'builtin', k6, reason: k6 ? `k6 ${k6.version} lacks xk6-sql or its postgres driver` : 'no k6 on PATH' };
}

export class K6Workload implements Workload {
  readonly kind = 'k6';
  private setupData: string | null | undefined;
  private chosen?: { runner: 'k6' | 'builtin'; k6?: K6BinaryInfo; reason: string };

  constructor(
    readonly name: string,
    private readonly spec: K6WorkloadSpec,
    private readonly opts: K6WorkloadOptions = {},
  ) {}

  private get script(): string {
    return resolve(this.spec.script);
  }

  private env(conn: ConnInfo): Record<string, string> {
    return { ...resolveEnv(this.spec.env), STATEBENCH_DSN: dsnFor(conn) };
  }

  private overrides() {
    const { vus, duration, warmup } = this.spec;
    if (vus === undefined && duration === undefined) return {};
    return { vus, durationMs: duration === undefined ? undefined : duration + warmup };
  }

  private async runner() {
    this.chosen ??= await selectRunner(this.spec.runner, this.opts.k6Binary);
    return this.chosen;
  }

  async load(conn: ConnInfo, rt: WorkloadRuntime): Promise<void> {
    if (!existsSync(this.script)) throw new StatebenchError(`k6 script ${this.spec.script} not found`, EXIT.usage, 'Check the workload `script` path');
    const chosen = await this.runner();
    rt.status('load', `${this.name}: ${chosen.runner} runner (${chosen.reason})`);
    if (chosen.runner === 'k6') {
      rt.event('workload-loaded', { workload: this.name, runner: 'k6', k6: chosen.k6?.version, note: 'setup() runs inside k6 run' });
      return;
    }
    const t0 = rt.clock.now();
    const session = await K6Session.open(this.script, this.env(conn), (l) => rt.event('k6-log', { workload: this.name, line: l }));
    try {
      const plan = session.plan(this.overrides());
      rt.status('load', `${this.name}: setup()`);
      this.setupData = await session.setup(plan);
      rt.event('workload-loaded', {
        workload: this.name,
        runner: 'builtin',
        reason: chosen.reason,
        scenarios: plan.scenarios.map((s) => `${s.name}: ${s.executor}`),
        ms: Math.round(rt.clock.now() - t0),
      });
    } finally {
      await session.close();
    }
  }

  async run(connFn: () => ConnInfo, rt: WorkloadRuntime): Promise<WorkloadSummary> {
    const chosen = await this.runner();
    return chosen.runner === 'k6' ? this.runK6(connFn(), rt, chosen.k6!) : this.runBuiltin(connFn(), rt);
  }

  private async runBuiltin(conn: ConnInfo, rt: WorkloadRuntime): Promise<WorkloadSummary> {
    const { warmup } = this.spec;
    let active = 0;
    let logged = 0;
    const log = (line: string) => {
      if (logged++ < 1000) rt.event('k6-log', { workload: this.name, line });
    };
    const recorder = new PhaseRecorder(
      () => rt.clock.now(),
      (s) => {
        rt.sample({ workload: this.name, ...s, vus: active });
        rt.status('run', `${this.name}: ${s.second}s, ${s.tps} tps, ${active} VUs${s.errors ? `, ${s.errors} errors` : ''}`);
      },
    );
    const session = await K6Session.open(this.script, this.env(conn), log);
    let measuring = false;
    let measureStartAbs = Infinity;
    let warmupTimer: NodeJS.Timeout | undefined;
    let warmupTransactions = 0;
    const startMeasuring = () => {
      if (measuring) return;
      measuring = true;
      measureStartAbs = performance.timeOrigin + performance.now();
      recorder.start();
      rt.onMeasureStart?.(recorder.startMs);
      rt.event('measure-start', { workload: this.name });
    };
    let result: BuiltinResult;
    let plan: RunPlan;
    try {
      plan = session.plan(this.overrides());
      if (this.setupData === undefined) {
        rt.status('load', `${this.name}: setup()`);
        this.setupData = await session.setup(plan);
      }
      rt.status('warmup', `${this.name}: starting VUs`);
      result = await session.run(plan, this.setupData, {
        signal: rt.signal,
        log,
        onStart: () => {
          if (warmup > 0) warmupTimer = setTimeout(startMeasuring, warmup);
          else startMeasuring();
        },
        onVus: (n) => {
          active = n;
        },
        onIteration: (e) => {
          if (!measuring || e.startAbs + e.durationMs < measureStartAbs) {
            warmupTransactions++;
            return;
          }
          if (e.failedKind) recorder.error(e.failedKind);
          else recorder.ok(e.durationMs);
        },
      });
      clearTimeout(warmupTimer);
      if (!measuring) startMeasuring();
      recorder.stop();
      await session.teardown(plan, this.setupData);
    } finally {
      clearTimeout(warmupTimer);
      recorder.stop();
      await session.close();
    }
    const s = recorder.summary();
    return {
      name: this.name,
      kind: this.kind,
      ...s,
      clients: result.vusMax,
      details: {
        runner: 'builtin',
        script: this.spec.script,
        scenarios: plan.scenarios.map((x) => ({ name: x.name, executor: x.executor, exec: x.exec })),
        warmupMs: warmup,
        warmupTransactions,
        iterations: result.iterations,
        failedIterations: result.failedIterations,
        droppedIterations: result.droppedIterations,
        interruptedIterations: result.interruptedIterations,
        scenarioIterations: result.scenarioIterations,
        thresholdsOk: result.thresholdsOk,
        thresholds: result.thresholds,
        checks: result.checks,
        iterationErrors: result.errors,
        vusTimeline: result.vusTimeline.slice(0, 2000),
        aborted: result.aborted,
        k6Metrics: result.metrics,
      },
    };
  }

  private async runK6(conn: ConnInfo, rt: WorkloadRuntime, k6: K6BinaryInfo): Promise<WorkloadSummary> {
    const { warmup } = this.spec;
    const keep = !!this.opts.artifactsDir;
    const outDir = this.opts.artifactsDir ? join(this.opts.artifactsDir, `k6-${this.name}`) : mkdtempSync(join(tmpdir(), 'statebench-k6-out-'));
    mkdirSync(outDir, { recursive: true });
    // Wall clock of k6's timestamps → run clock.
    const offset = Date.now() - rt.clock.now();
    let measureStartAbs: number | undefined;
    let warmupTimer: NodeJS.Timeout | undefined;
    let logged = 0;
    try {
      const r = await runK6Binary({
        bin: k6.path,
        script: this.script,
        outDir,
        env: this.env(conn),
        ...this.overrides(),
        signal: rt.signal,
        log: (line) => {
          if (logged++ < 1000) rt.event('k6-log', { workload: this.name, line });
        },
        onFirstIteration: (startAbs) => {
          const at = startAbs + warmup;
          warmupTimer = setTimeout(
            () => {
              measureStartAbs = at;
              rt.onMeasureStart?.(at - offset);
              rt.event('measure-start', { workload: this.name });
            },
            Math.max(0, at - Date.now()),
          );
        },
        onProgress: (n) => rt.status('run', `${this.name}: k6 running, ${n} iterations`),
      });
      clearTimeout(warmupTimer);
      if (r.exitCode === null || !K6_EXIT_OK.has(r.exitCode)) {
        throw new StatebenchError(
          `k6 exited with ${r.exitCode === null ? `signal ${r.signal}` : `code ${r.exitCode}`} running ${this.spec.script}:\n${r.outputTail.slice(-15).join('\n')}`,
          EXIT.runFailed,
        );
      }
      const exported = existsSync(r.summaryPath) ? parseSummaryExport(readFileSync(r.summaryPath, 'utf8')) : undefined;
      const iterations = r.points.resolved();
      const start = measureStartAbs ?? (r.points.firstIterationAbs ?? r.startedAbs) + warmup;
      if (measureStartAbs === undefined) {
        // k6 finished before the measured phase was seen to start (a short run): still announce it once.
        rt.onMeasureStart?.(start - offset);
        rt.event('measure-start', { workload: this.name });
      }
      const phase = measuredPhase(iterations, start, (abs) => abs - offset, r.points.unmatchedErrors);
      for (const s of phase.seconds) rt.sample({ workload: this.name, ...s });
      const vusMax = exported?.vusMax ?? Math.max(0, ...r.points.vus.map(([, v]) => v));
      const { seconds: _seconds, warmupTransactions, ...figures } = phase;
      return {
        name: this.name,
        kind: this.kind,
        ...figures,
        clients: vusMax,
        details: {
          runner: 'k6',
          k6: k6.version,
          script: this.spec.script,
          exitCode: r.exitCode,
          warmupMs: warmup,
          warmupTransactions,
          iterations: iterations.length,
          droppedIterations: exported?.droppedIterations ?? r.points.dropped,
          thresholdsOk: exported?.thresholdsOk ?? r.exitCode !== 99,
          thresholds: exported?.thresholds,
          checks: exported?.checks,
          malformedPointLines: r.points.malformed,
          k6Metrics: exported?.metrics,
          artifacts: keep ? { summary: r.summaryPath, points: r.pointsPath } : undefined,
        },
      };
    } finally {
      clearTimeout(warmupTimer);
      if (!keep) rmSync(outDir, { recursive: true, force: true });
    }
  }
}
