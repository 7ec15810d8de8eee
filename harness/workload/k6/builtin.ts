// The built-in k6 runner: runs an unchanged k6 script that uses xk6-sql against PostgreSQL without
// the k6 binary.
//
// Shape, as in k6: every VU is its own JavaScript runtime (a worker thread) that evaluates the
// script's init code; VU 0 reports `options` and runs setup()/teardown(); the coordinator (this
// module, on the caller's thread) turns options into scenarios and drives the executors.
//
// Synchronous SQL. xk6-sql calls block in k6 (each VU is a goroutine blocking in lib/pq), and
// scripts rely on it, so they must block here too. Measured on this 2-core machine (single client,
// `SELECT $1::int` round trips, same server, the machine shared with other load):
//  - pg-native (libpq addon, querySync): builds here against libpq-dev and is the fastest
//    single-threaded (~135 µs/query where async node-postgres took ~280 µs), but its addon is not
//    context-aware: the second worker thread that loads it fails with "Module did not self-register",
//    so it cannot serve one runtime per VU; it would also make every machine build native code.
//  - an Atomics bridge (VU posts the statement to a SQL host thread owning node-postgres connections,
//    blocks in Atomics.wait until the answer is posted): pure JavaScript, but two thread hand-offs a
//    statement, ~40 µs of CPU each round trip even without a database, and ~320-360 µs/query against
//    ~180-240 µs for async node-postgres; in a 20-statement transaction mix it reached 0.6-0.7 of
//    node-postgres's throughput.
//  - chosen: blocking sockets. The SQL host thread connects and authenticates with node-postgres (every
//    auth method and DSN form it supports), then stops reading the socket, switches it to blocking
//    mode and hands the file descriptor to the VU, which speaks the protocol itself with
//    fs.writeSync/fs.readSync (runtime/pg-sync.mjs, on pg-protocol's serializer and parser). A VU
//    then blocks in the kernel exactly as a Go VU does, with no hand-off per statement: ~170-180
//    µs/query, faster than async node-postgres on one event loop. The bridge stays as the fallback
//    (TLS connections, a Node without blocking stream handles) and for comparison (bench/k6-runner.ts
//    --bridge). Like lib/pq, a VU waits as long as its server takes to answer (a SIGSTOPped server
//    holds it until SIGCONT); interrupts take effect between statements.
// The SQL host runs on its own worker thread, so connecting never queues behind the harness's main
// event loop (safety writer, fault schedule, progress), and the main thread only schedules.
//
// Control: each VU has four Int32 control words over a SharedArrayBuffer (command, scenario, stop
// level, busy/idle). The coordinator writes a command and notifies; the VU runs one iteration
// (arrival-rate) or loops until told to stop (constant/ramping VUs, iteration executors). Stopping is
// graceful first (the current iteration finishes) and, after gracefulStop/gracefulRampDown, an
// interrupt, which makes the VU's next sleep() or SQL wait throw out of the iteration. Metric samples
// and iteration records come back in batches (at most 20 ms old) over the worker's message port.
import { Worker, MessageChannel } from 'node:worker_threads';
import { loadScript, mapPaths, K6ScriptError, K6UnsupportedError, type LoadedScript } from './loader.ts';
import {
  planRun,
  scenarioInitialVus,
  scenarioMaxVus,
  planMaxDurationMs,
  rampingTarget,
  arrivalCount,
  type Overrides,
  type RunPlan,
  type ScenarioPlan,
  K6OptionsError,
} from './options.ts';
import { MetricStore, type MetricType, type ThresholdResult } from './metrics.ts';
import { exceptionKind } from './normalize.ts';
import { MAX_VUS } from '../../model/k6.ts';
import { EXIT, WaitTimeoutError } from '../../errors.ts';
import { met, notYet, waitFor } from '../../core/wait.ts';
import { CTL, CTL_WORDS, CMD, STOP, STATE, REC } from './runtime/vu-runtime.mjs';

const VU_WORKER = new URL('./runtime/vu-worker.mjs', import.meta.url);
const SQL_HOST_WORKER = new URL('./runtime/sql-host-worker.mjs', import.meta.url);

export interface IterationEvent {
  scenario: string;
  vu: number;
  /** performance.timeOrigin-based epoch milliseconds (sub-ms), comparable across threads. */
  startAbs: number;
  durationMs: number;
  /** null: the iteration succeeded; otherwise the error kind (from `statebench_errors` or the exception). */
  failedKind: string | null;
  error?: { name: string; message: string; code?: string };
}

export interface RunHooks {
  signal?: AbortSignal;
  /** Called for every completed (not interrupted) iteration as its batch arrives. */
  onIteration?(e: IterationEvent): void;
  /** Active VUs changed. */
  onVus?(active: number): void;
  /** Scenarios start now (VUs initialized, setup done). */
  onStart?(): void;
  /** Console output of the script and the first occurrence of each iteration error. */
  log?(line: string): void;
}

export interface CheckSummary {
  path: string;
  name: string;
  passes: number;
  fails: number;
}

export interface BuiltinResult {
  plan: RunPlan;
  /** From the start of the scenarios to the end of the last one. */
  durationMs: number;
  iterations: number;
  /** Iterations that failed (exception or `statebench_errors`). */
  failedIterations: number;
  interruptedIterations: number;
  droppedIterations: number;
  vusMax: number;
  /** [ms since scenarios started, active VUs] at every change. */
  vusTimeline: [number, number][];
  /** Per-scenario iteration counts. */
  scenarioIterations: Record<string, number>;
  /** `k6 run --summary-export` shape. */
  metrics: Record<string, Record<string, unknown>>;
  thresholds: ThresholdResult[];
  thresholdsOk: boolean;
  checks: CheckSummary[];
  /** Distinct iteration error messages with counts (first 20). */
  errors: { message: string; count: number }[];
  /** Why the run stopped early, if it did. */
  aborted?: string;
}

interface VuHandle {
  id: number;
  worker: Worker;
  ctl: Int32Array;
  ready: Promise<void>;
  dead: boolean;
  exited: Promise<void>;
}

export type SqlMode = 'direct' | 'bridge';

type Fatal = { phase: string; error: { name: string; message: string; stack?: string } };

const absNow = () => performance.timeOrigin + performance.now();

class SqlHost {
  private worker: Worker;
  constructor() {
    this.worker = new Worker(SQL_HOST_WORKER, { execArgv: [] });
    this.worker.unref();
  }
  attach(port: import('node:worker_threads').MessagePort, sab: SharedArrayBuffer, vu: number): void {
    this.worker.postMessage({ t: 'attach', port, sab, vu }, [port]);
  }
  private nextRequest = 0;
  /** Ends the server sessions of these VUs, so a VU blocked on a statement gets its answer. */
  terminateBackends(vus: number[]): Promise<void> {
    const id = ++this.nextRequest;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        resolve();
      };
      const onMessage = (m: { t?: string; id?: number }) => {
        if (m?.t === 'terminated' && m.id === id) done();
      };
      const timer = setTimeout(done, 15_000);
      this.worker.on('message', onMessage);
      this.worker.postMessage({ t: 'terminate', vus, id });
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.worker.on('message', (m) => m?.t === 'closed' && resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage({ t: 'close' });
    await Promise.race([closed, new Promise((r) => setTimeout(r, 8000))]);
    await this.worker.terminate();
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One loaded script: its SQL host and VU 0. `open` and `plan` report every load-time problem (syntax,
 * imports, init code, options, exports, thresholds) before setup() or any scenario runs.
 */
export class K6Session {
  private host = new SqlHost();
  private vu0?: VuHandle;
  private vus: VuHandle[] = [];
  private fatal?: Fatal;
  private store = new MetricStore();
  private env: Record<string, string>;
  private exports: Record<string, string> = {};
  private options: Record<string, unknown> = {};
  private closed = false;
  private log: (line: string) => void = (l) => process.stderr.write(`${l}\n`);
  private sqlMode: SqlMode = 'direct';

  private constructor(
    readonly script: LoadedScript,
    env: Record<string, string>,
  ) {
    this.env = env;
    for (const [name, type, isTime] of [
      ['iterations', 'counter', false],
      ['iteration_duration', 'trend', true],
      ['dropped_iterations', 'counter', false],
      ['vus', 'gauge', false],
      ['vus_max', 'gauge', false],
      ['checks', 'rate', false],
      ['group_duration', 'trend', true],
    ] as const) {
      this.store.define(name, type, isTime);
    }
  }

  /**
   * `sql`: `direct` (default) lets each VU run its statements on its own connection's socket;
   * `bridge` sends every statement through the SQL host thread (used for TLS connections anyway).
   */
  static async open(scriptPath: string, env: Record<string, string>, log?: (line: string) => void, o: { sql?: SqlMode } = {}): Promise<K6Session> {
    const script = await loadScript(scriptPath);
    const s = new K6Session(script, env);
    if (log) s.log = log;
    s.sqlMode = o.sql ?? 'direct';
    try {
      await s.init();
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  private mapped(text: string): string {
    return mapPaths(text, this.script.pathMap);
  }

  private scriptError(f: Fatal): Error {
    const stack = f.error.stack ? this.mapped(f.error.stack) : `${f.error.name}: ${f.error.message}`;
    const message = this.mapped(f.error.message);
    if (f.error.name === 'UnsupportedError') return new K6UnsupportedError(`${this.script.path}: ${message}`, this.script.path);
    if (f.error.name === 'SyntaxError') {
      // A linking error (e.g. a name a local module does not export) names the module and the export.
      return new K6ScriptError(`${this.script.path}: ${message}`, this.script.path);
    }
    return new K6ScriptError(`${this.script.path}: ${f.phase === 'init' ? 'init code' : f.phase} failed: ${stack}`, this.script.path, undefined, undefined, f.phase === 'init' ? EXIT.usage : EXIT.runFailed);
  }

  private spawn(id: number, role: 'init' | 'vu', extra: Record<string, unknown>): VuHandle {
    const ctlSab = new SharedArrayBuffer(4 * CTL_WORDS);
    const sqlSab = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    this.host.attach(port1, sqlSab, id);
    const worker = new Worker(VU_WORKER, {
      workerData: { role, id, entryUrl: this.script.entryUrl, pathMap: this.script.pathMap, ctlSab, sqlSab, sqlPort: port2, env: this.env, sqlMode: this.sqlMode, ...extra },
      transferList: [port2],
      // The script's modules are vm.SourceTextModules in a sandbox realm (runtime/sandbox.mjs).
      execArgv: ['--experimental-vm-modules', '--no-warnings'],
      stdout: true,
      stderr: true,
    });
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    ready.catch(() => {});
    const h: VuHandle = { id, worker, ctl: new Int32Array(ctlSab), ready, dead: false, exited: new Promise((r) => worker.once('exit', () => r())) };
    const pipe = (stream: NodeJS.ReadableStream) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) this.log(`[vu ${id}] ${l}`);
      });
      stream.on('end', () => rest && this.log(`[vu ${id}] ${rest}`));
    };
    pipe(worker.stdout);
    pipe(worker.stderr);
    worker.on('message', (m) => {
      switch (m?.t) {
        case 'batch':
          this.onBatch(m.vu, m.recs);
          break;
        case 'ready':
        case 'init':
          resolveReady();
          break;
        case 'fatal':
          h.dead = true;
          this.fatal ??= { phase: m.phase, error: m.error };
          rejectReady(this.scriptError(this.fatal));
          this.runAbort?.abort();
          break;
      }
      if (role === 'init') this.onVu0Message?.(m);
    });
    worker.on('error', (e) => {
      h.dead = true;
      this.fatal ??= { phase: 'internal', error: { name: e.name, message: e.message, stack: e.stack } };
      rejectReady(this.scriptError(this.fatal));
      this.runAbort?.abort();
    });
    worker.on('exit', () => {
      h.dead = true;
      rejectReady(new Error(`VU ${id} exited before it was ready`));
    });
    return h;
  }

  private onVu0Message?: (m: { t: string; [k: string]: unknown }) => void;

  private async init(): Promise<void> {
    const got = new Promise<{ options: Record<string, unknown>; exports: Record<string, string> }>((resolve) => {
      this.onVu0Message = (m) => {
        if (m.t === 'init') resolve({ options: m.options as Record<string, unknown>, exports: m.exports as Record<string, string> });
      };
    });
    this.vu0 = this.spawn(0, 'init', { scenarios: [], deadlineAbs: absNow() + 24 * 3600_000, minIterationDurationMs: 0 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new K6ScriptError(`${this.script.path}: init code did not finish within 60s`)), 60_000);
    });
    let r: { options: Record<string, unknown>; exports: Record<string, string> };
    try {
      r = await Promise.race([got, this.vu0.ready.then(() => got), timeout]);
    } finally {
      clearTimeout(timer);
    }
    this.options = r.options;
    this.exports = r.exports;
    if (this.exports.handleSummary) {
      throw new K6UnsupportedError(`${this.script.path}: handleSummary() is not supported by the built-in runner (statebench writes the summary); remove it or run this script with k6`, this.script.path);
    }
  }

  /** The scenarios this script runs, with statebench's overrides; checks exec functions and thresholds. */
  plan(overrides: Overrides = {}): RunPlan {
    const plan = planRun(this.options, overrides);
    for (const s of plan.scenarios) {
      const kind = this.exports[s.exec];
      if (kind === undefined) {
        throw new K6OptionsError(
          s.exec === 'default' ? `${this.script.path}: the script has no default export to run` : `${this.script.path}: scenario ${s.name} runs exec "${s.exec}", which the script does not export`,
        );
      }
      if (kind === 'async') throw new K6UnsupportedError(`${this.script.path}: async function ${s.exec}() is not supported by the built-in runner; xk6-sql calls are synchronous, use a plain function`);
      if (kind !== 'function') throw new K6OptionsError(`${this.script.path}: export ${s.exec} is a ${kind}, not a function`);
    }
    for (const f of ['setup', 'teardown']) {
      if (this.exports[f] === 'async') throw new K6UnsupportedError(`${this.script.path}: async function ${f}() is not supported by the built-in runner; use a plain function`);
    }
    const total = plan.scenarios.reduce((a, s) => a + scenarioMaxVus(s), 0);
    if (total > MAX_VUS) throw new K6OptionsError(`${this.script.path}: the scenarios need ${total} VUs; the built-in runner runs at most ${MAX_VUS} (one thread each); use k6 for more`);
    this.store.addThresholds(plan.thresholds);
    this.store.validateThresholds();
    return plan;
  }

  private async lifecycle(kind: 'setup' | 'teardown', timeoutMs: number, data?: string | null): Promise<string | null> {
    const vu0 = this.vu0!;
    const result = new Promise<string | null>((resolve, reject) => {
      this.onVu0Message = (m) => {
        if (m.t === `${kind}-done`) resolve((m.data as string | null | undefined) ?? null);
        if (m.t === `${kind}-error`) {
          const e = m.error as Fatal['error'];
          reject(new K6ScriptError(`${this.script.path}: ${kind}() failed: ${this.mapped(e.stack ?? `${e.name}: ${e.message}`)}`, this.script.path, undefined, undefined, EXIT.runFailed));
        }
        if (m.t === 'fatal') reject(this.scriptError({ phase: kind, error: m.error as Fatal['error'] }));
      };
    });
    vu0.worker.postMessage({ t: kind, data });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new K6ScriptError(`${this.script.path}: ${kind}() did not finish within ${timeoutMs / 1000}s (options.${kind}Timeout)`, this.script.path, undefined, undefined, EXIT.runFailed)), timeoutMs);
    });
    try {
      return await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs setup() in VU 0; returns its data as JSON (null when there is none). */
  setup(plan: RunPlan): Promise<string | null> {
    return this.lifecycle('setup', plan.setupTimeoutMs);
  }

  teardown(plan: RunPlan, data: string | null): Promise<void> {
    return this.lifecycle('teardown', plan.teardownTimeoutMs, data).then(() => {});
  }

  // ---- the run ----

  private runAbort?: AbortController;
  private hooks: RunHooks = {};
  private plan_?: RunPlan;
  private iterations = 0;
  private failed = 0;
  private scenarioIterations: Record<string, number> = {};
  private errorCounts = new Map<string, number>();
  private checkCounts = new Map<string, CheckSummary>();
  private baseTags: Record<string, string>[] = [];
  private active: number[] = [];
  private vusTimeline: [number, number][] = [];
  private runStartAbs = 0;
  private dropped = 0;
  private vusMax = 0;

  private tags(scen: number, group: string, extra: Record<string, string> | null): Record<string, string> {
    const base = scen >= 0 ? this.baseTags[scen] : (this.plan_?.tags ?? {});
    const t: Record<string, string> = { ...base };
    if (group) t.group = group;
    if (extra) for (const [k, v] of Object.entries(extra)) t[k] = String(v);
    return t;
  }

  private onBatch(vu: number, recs: unknown[][]): void {
    for (const r of recs) {
      switch (r[0]) {
        case REC.DEF:
          try {
            this.store.define(r[1] as string, r[2] as MetricType, r[3] as boolean);
          } catch (e) {
            this.fatal ??= { phase: 'init', error: { name: 'Error', message: (e as Error).message } };
            this.runAbort?.abort();
          }
          break;
        case REC.SAMPLE: {
          const [, name, value, , scen, group, extra] = r as [number, string, number, number, number, string, Record<string, string> | null];
          // Full tag sets are built only for metrics a threshold filters by tag.
          this.store.add(name, value, this.store.needsTags(name) ? this.tags(scen, group, extra) : undefined);
          if (name === 'checks') {
            const check = extra?.check ?? '';
            const key = `${group}\u0000${check}`;
            const c = this.checkCounts.get(key) ?? { path: group, name: check, passes: 0, fails: 0 };
            if (value) c.passes++;
            else c.fails++;
            this.checkCounts.set(key, c);
          }
          break;
        }
        case REC.ITER: {
          const [, scen, startAbs, dur, failedKind, err] = r as [number, number, number, number, string | null, IterationEvent['error'] | null, number];
          const s = this.plan_!.scenarios[scen];
          const tags = this.baseTags[scen];
          this.iterations++;
          this.iterationRecords.set(vu, (this.iterationRecords.get(vu) ?? 0) + 1);
          this.scenarioIterations[s.name] = (this.scenarioIterations[s.name] ?? 0) + 1;
          this.store.add('iterations', 1, tags);
          this.store.add('iteration_duration', dur, tags);
          let kind = failedKind;
          if (err) {
            kind ??= exceptionKind(err);
            const msg = this.mapped(err.message);
            const n = this.errorCounts.get(msg) ?? 0;
            if (n === 0 && this.errorCounts.size < 20) {
              const stack = (err as { stack?: string }).stack;
              const frame = stack ? this.mapped(stack).split('\n').find((l) => l.includes(this.script.path)) : undefined;
              this.log(`iteration error (scenario ${s.name}): ${err.name}: ${msg}${frame ? `\n${frame}` : ''}`);
            }
            if (n > 0 || this.errorCounts.size < 20) this.errorCounts.set(msg, n + 1);
          }
          if (kind) this.failed++;
          this.hooks.onIteration?.({
            scenario: s.name,
            vu,
            startAbs,
            durationMs: dur,
            failedKind: kind,
            error: err ? { name: err.name, message: this.mapped(err.message), code: err.code } : undefined,
          });
          break;
        }
        case REC.DONE:
          break;
      }
    }
  }

  private lastActiveAt: number[] = [];

  /** Records active VUs; `throttle`: at most every 100 ms (arrival-rate changes it per iteration). */
  private setActive(scen: number, n: number, throttle = false): void {
    if (this.active[scen] === n) return;
    const t = absNow();
    if (throttle && n !== 0 && t - (this.lastActiveAt[scen] ?? 0) < 100) return;
    this.lastActiveAt[scen] = t;
    this.active[scen] = n;
    const total = this.active.reduce((a, b) => a + b, 0);
    this.vusTimeline.push([+(absNow() - this.runStartAbs).toFixed(1), total]);
    this.store.add('vus', total, this.plan_?.tags ?? {});
    this.hooks.onVus?.(total);
  }

  private issue(v: VuHandle, cmd: number, scen: number): boolean {
    if (v.dead) return false;
    if (Atomics.compareExchange(v.ctl, CTL.STATE, STATE.IDLE, STATE.BUSY) !== STATE.IDLE) return false;
    Atomics.store(v.ctl, CTL.SCEN, scen);
    Atomics.store(v.ctl, CTL.STOP, STOP.RUN);
    Atomics.store(v.ctl, CTL.CMD, cmd);
    Atomics.notify(v.ctl, CTL.CMD);
    return true;
  }

  private stop(v: VuHandle, level: number): void {
    Atomics.store(v.ctl, CTL.STOP, level);
    Atomics.notify(v.ctl, CTL.STOP);
  }

  private idle(v: VuHandle): boolean {
    return v.dead || Atomics.load(v.ctl, CTL.STATE) === STATE.IDLE;
  }

  private async waitIdle(vus: VuHandle[], ms: number): Promise<boolean> {
    try {
      await waitFor('the VUs to be idle', () => (vus.every((v) => this.idle(v)) ? met(undefined) : notYet(`${vus.filter((v) => !this.idle(v)).length} busy`)), { timeoutMs: ms, intervalMs: 10 });
      return true;
    } catch (e) {
      if (e instanceof WaitTimeoutError) return false;
      throw e;
    }
  }

  /** Iteration records received from each VU (by VU id). */
  private readonly iterationRecords = new Map<number, number>();

  /**
   * Graceful stop, then interrupt, then (a VU stuck outside JavaScript) terminate. Nothing is counted
   * here: whether an iteration completed or was interrupted is the VU's to say (its counters), since
   * a VU told to stop may end its iteration on its own at any moment.
   */
  private async finish(vus: VuHandle[], gracefulMs: number): Promise<void> {
    const busy = vus.filter((v) => !this.idle(v));
    const grace = this.runAbort!.signal.aborted ? Math.min(gracefulMs, 1000) : gracefulMs;
    // A VU already interrupted (ramping down past its gracefulRampDown) stays interrupted. No grace
    // means no graceful stop at all, as in k6: a VU told to finish first could end its iteration on
    // its own in the moment before the interrupt.
    if (grace > 0) {
      for (const v of busy) {
        Atomics.compareExchange(v.ctl, CTL.STOP, STOP.RUN, STOP.GRACEFUL);
        Atomics.notify(v.ctl, CTL.STOP);
      }
      if (await this.waitIdle(busy, grace)) return;
    }
    for (const v of busy) if (!this.idle(v)) this.stop(v, STOP.INTERRUPT);
    if (await this.waitIdle(busy, 5000)) return;
    // Still busy: blocked on a statement (interrupts act between statements). End its server session.
    await this.host.terminateBackends(busy.filter((v) => !this.idle(v)).map((v) => v.id));
    if (await this.waitIdle(busy, 5000)) return;
    for (const v of busy) {
      if (!this.idle(v)) {
        v.dead = true;
        // A thread blocked in a read on a frozen server ends only when the read does: do not wait.
        void v.worker.terminate().catch(() => 0);
      }
    }
  }

  private async spawnVus(n: number, firstId: number, extra: Record<string, unknown>): Promise<VuHandle[]> {
    const vus = Array.from({ length: n }, (_, i) => this.spawn(firstId + i, 'vu', extra));
    this.vus.push(...vus);
    await Promise.all(vus.map((v) => v.ready));
    return vus;
  }

  /** Runs the scenarios (setup must have run; teardown is separate). */
  async run(plan: RunPlan, setupData: string | null, hooks: RunHooks = {}): Promise<BuiltinResult> {
    this.plan_ = plan;
    this.hooks = hooks;
    if (hooks.log) this.log = hooks.log;
    const abort = new AbortController();
    this.runAbort = abort;
    if (this.fatal) throw this.scriptError(this.fatal);
    const onSignal = () => {
      abortReason ??= 'interrupted';
      abort.abort();
    };
    let abortReason: string | undefined;
    hooks.signal?.addEventListener('abort', onSignal, { once: true });
    if (hooks.signal?.aborted) onSignal();
    this.baseTags = plan.scenarios.map((s) => ({ ...plan.tags, ...s.tags, scenario: s.name }));
    this.active = plan.scenarios.map(() => 0);
    const descriptors = plan.scenarios.map((s) => ({
      name: s.name,
      exec: s.exec,
      env: Object.keys(s.env).length ? s.env : undefined,
      perVuIterations: s.executor === 'per-vu-iterations' ? s.iterations : undefined,
      sharedSab: s.executor === 'shared-iterations' ? new SharedArrayBuffer(4) : undefined,
      sharedTotal: s.executor === 'shared-iterations' ? s.iterations : undefined,
    }));
    const deadlineAbs = absNow() + planMaxDurationMs(plan) + 120_000;
    const vuData = { scenarios: descriptors, deadlineAbs, minIterationDurationMs: plan.minIterationDurationMs };

    // Initialize every VU before the scenarios start, as k6 does (arrival-rate adds more on demand).
    const pools: VuHandle[][] = [];
    let nextId = 1;
    try {
      for (const s of plan.scenarios) {
        const n = scenarioInitialVus(s);
        pools.push(await this.spawnVus(n, nextId, vuData));
        nextId += n;
      }
    } catch (e) {
      hooks.signal?.removeEventListener('abort', onSignal);
      throw this.fatal ? this.scriptError(this.fatal) : e;
    }
    let maxId = nextId - 1;
    this.vusMax = maxId;
    this.store.add('vus_max', maxId, plan.tags);
    for (const v of this.vus) v.worker.postMessage({ t: 'start', setupData });

    // Thresholds with abortOnFail are evaluated every 2 s, as k6 does.
    const hasAbortOnFail = Object.values(plan.thresholds).some((l) => l.some((t) => t.abortOnFail));
    this.runStartAbs = absNow();
    const thresholdTimer = hasAbortOnFail
      ? setInterval(() => {
          const elapsed = absNow() - this.runStartAbs;
          const crossed = this.store.evaluate(elapsed, elapsed).find((r) => !r.ok && r.abortOnFail);
          if (crossed) {
            abortReason ??= `threshold ${crossed.metric}: ${crossed.source} crossed (abortOnFail)`;
            abort.abort();
          }
        }, 2000)
      : undefined;
    hooks.onStart?.();

    const signal = abort.signal;
    const at = (ms: number) => abortableSleep(this.runStartAbs + ms - absNow(), signal);
    const spawnMore = async (): Promise<VuHandle | undefined> => {
      const id = ++maxId;
      this.vusMax = Math.max(this.vusMax, id);
      this.store.add('vus_max', this.vusMax, plan.tags);
      const [v] = await this.spawnVus(1, id, { ...vuData, setupData });
      return v;
    };

    const runScenario = async (si: number): Promise<void> => {
      const s = plan.scenarios[si];
      const pool = pools[si];
      await at(s.startTimeMs);
      if (signal.aborted) return;
      const t0 = absNow();
      switch (s.executor) {
        case 'constant-vus': {
          for (const v of pool) this.issue(v, CMD.LOOP, si);
          this.setActive(si, pool.length);
          await abortableSleep(t0 + s.durationMs - absNow(), signal);
          await this.finish(pool, s.gracefulStopMs);
          break;
        }
        case 'shared-iterations':
        case 'per-vu-iterations': {
          for (const v of pool) this.issue(v, CMD.LOOP, si);
          this.setActive(si, pool.length);
          const end = t0 + s.maxDurationMs;
          while (!signal.aborted && absNow() < end && !pool.every((v) => this.idle(v))) await abortableSleep(Math.min(10, end - absNow()), signal);
          await this.finish(pool, s.gracefulStopMs);
          break;
        }
        case 'ramping-vus':
          await this.ramping(si, s, pool, t0, signal);
          break;
        case 'constant-arrival-rate':
          await this.arrivals(si, s, pool, t0, signal, spawnMore);
          break;
      }
      this.setActive(si, 0);
    };

    let runError: unknown;
    try {
      await Promise.all(plan.scenarios.map((_, i) => runScenario(i)));
    } catch (e) {
      runError = e;
    } finally {
      clearInterval(thresholdTimer);
      hooks.signal?.removeEventListener('abort', onSignal);
    }
    const durationMs = absNow() - this.runStartAbs;
    // Batches in flight from VUs that just went idle.
    await this.quiesce();
    if (this.fatal) throw this.scriptError(this.fatal);
    const interrupted = this.reconcileIterations();
    if (runError) throw runError;

    const thresholds = this.store.evaluate(durationMs);
    return {
      plan,
      durationMs: Math.round(durationMs),
      iterations: this.iterations,
      failedIterations: this.failed,
      interruptedIterations: interrupted,
      droppedIterations: this.dropped,
      vusMax: this.vusMax,
      vusTimeline: this.vusTimeline,
      scenarioIterations: this.scenarioIterations,
      metrics: this.store.exportSummary(durationMs, plan.summaryTrendStats, thresholds),
      thresholds,
      thresholdsOk: thresholds.every((t) => t.ok),
      checks: [...this.checkCounts.values()],
      errors: [...this.errorCounts.entries()].map(([message, count]) => ({ message, count })),
      aborted: abortReason ?? (signal.aborted ? 'aborted' : undefined),
    };
  }

  /**
   * Takes the VUs' own iteration counters as the counts: an iteration started and never ended was
   * interrupted. A terminated VU's records not yet posted are gone; its completed iterations are
   * still counted (their durations and samples are not). Returns the interrupted iterations.
   */
  private reconcileIterations(): number {
    let interrupted = 0;
    let unrecorded = 0;
    for (const v of this.vus) {
      const ended = Atomics.load(v.ctl, CTL.ENDED);
      interrupted += Atomics.load(v.ctl, CTL.STARTED) - ended;
      unrecorded += Math.max(0, ended - (this.iterationRecords.get(v.id) ?? 0));
      this.iterationRecords.set(v.id, ended);
    }
    if (unrecorded > 0) {
      this.iterations += unrecorded;
      this.log(`${unrecorded} iteration(s) of terminated VUs completed without their records: counted, without durations or samples`);
    }
    return interrupted;
  }

  /** Lets every VU's last batch arrive: each VU is asked to flush by the EXIT below, or has already. */
  private async quiesce(): Promise<void> {
    for (const v of this.vus) {
      if (v.dead) continue;
      Atomics.store(v.ctl, CTL.CMD, CMD.EXIT);
      Atomics.notify(v.ctl, CTL.CMD);
    }
    await Promise.race([Promise.all(this.vus.map((v) => v.exited)), new Promise((r) => setTimeout(r, 10_000))]);
  }

  private async ramping(si: number, s: ScenarioPlan, pool: VuHandle[], t0: number, signal: AbortSignal): Promise<void> {
    const total = s.stages.reduce((a, x) => a + x.durationMs, 0);
    const active: VuHandle[] = [];
    const rampingDown: { v: VuHandle; deadline: number }[] = [];
    for (;;) {
      const e = absNow() - t0;
      const want = rampingTarget(s, Math.min(e, total));
      while (active.length < want) {
        const v = pool.find((x) => !active.includes(x) && !rampingDown.some((r) => r.v === x) && this.issue(x, CMD.LOOP, si));
        if (!v) break;
        active.push(v);
      }
      while (active.length > want) {
        const v = active.pop()!;
        this.stop(v, s.gracefulRampDownMs > 0 ? STOP.GRACEFUL : STOP.INTERRUPT);
        rampingDown.push({ v, deadline: absNow() + s.gracefulRampDownMs });
      }
      for (let i = rampingDown.length - 1; i >= 0; i--) {
        const r = rampingDown[i];
        if (this.idle(r.v)) rampingDown.splice(i, 1);
        else if (absNow() > r.deadline && Atomics.load(r.v.ctl, CTL.STOP) !== STOP.INTERRUPT) this.stop(r.v, STOP.INTERRUPT);
      }
      this.setActive(si, active.length);
      if (e >= total || signal.aborted) break;
      await abortableSleep(Math.min(20, total - e), signal);
    }
    await this.finish([...active, ...rampingDown.map((r) => r.v)], s.gracefulStopMs);
  }

  private async arrivals(si: number, s: ScenarioPlan, pool: VuHandle[], t0: number, signal: AbortSignal, spawnMore: () => Promise<VuHandle | undefined>): Promise<void> {
    const total = arrivalCount(s);
    const period = s.timeUnitMs / s.rate;
    const tags = this.baseTags[si];
    let scheduled = 0;
    let pending = 0;
    while (scheduled < total && !signal.aborted) {
      const due = Math.min(total, Math.floor((absNow() - t0) / period) + 1);
      while (scheduled < due) {
        scheduled++;
        if (pool.some((v) => this.issue(v, CMD.ONE, si))) continue;
        // No idle VU: k6 drops the iteration and initializes another VU for later ones.
        this.dropped++;
        this.store.add('dropped_iterations', 1, tags);
        if (pool.length + pending < s.maxVUs) {
          pending++;
          spawnMore()
            .then((v) => v && pool.push(v))
            .catch(() => {})
            .finally(() => pending--);
        }
      }
      this.setActive(si, pool.filter((v) => !this.idle(v)).length, true);
      if (scheduled >= total) break;
      await abortableSleep(t0 + scheduled * period - absNow(), signal);
    }
    await abortableSleep(t0 + s.durationMs - absNow(), signal);
    await this.finish(pool, s.gracefulStopMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.vus, ...(this.vu0 ? [this.vu0] : [])];
    for (const v of all) {
      if (v.dead) continue;
      Atomics.store(v.ctl, CTL.STOP, STOP.INTERRUPT);
      Atomics.store(v.ctl, CTL.CMD, CMD.EXIT);
      Atomics.notify(v.ctl, CTL.CMD);
      Atomics.notify(v.ctl, CTL.STOP);
    }
    this.vu0?.worker.postMessage({ t: 'exit' });
    await Promise.race([Promise.all(all.map((v) => v.exited)), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.race([Promise.all(all.map((v) => v.worker.terminate().catch(() => 0))), new Promise((r) => setTimeout(r, 5000))]);
    await this.host.close();
    this.script.dispose();
  }
}

/** Convenience: load, setup, run, teardown, close. */
export async function runBuiltin(
  scriptPath: string,
  o: { env?: Record<string, string>; overrides?: Overrides; hooks?: RunHooks; log?: (line: string) => void; sql?: SqlMode } = {},
): Promise<BuiltinResult & { setupData: string | null }> {
  const session = await K6Session.open(scriptPath, o.env ?? {}, o.log, { sql: o.sql });
  try {
    const plan = session.plan(o.overrides);
    const setupData = await session.setup(plan);
    const result = await session.run(plan, setupData, { log: o.log, ...o.hooks });
    await session.teardown(plan, setupData);
    return { ...result, setupData };
  } finally {
    await session.close();
  }
}

