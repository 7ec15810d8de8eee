// One k6 VU: a worker thread with its own JavaScript runtime that evaluates the script's init code,
// then runs iterations as the coordinator commands through its control words. Role `init` is k6's
// VU 0: it reports `options` and the exports, and runs setup() and teardown().
//
// The script itself runs in a sandbox (sandbox.mjs): its own realm with only what k6 offers. This
// thread's realm holds the k6 module implementations and never hands the script one of its objects.
import { workerData, parentPort } from 'node:worker_threads';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { vu, CTL, CMD, STOP, STATE, REC, flush, maybeFlush, blockFor, now, UnsupportedError } from './vu-runtime.mjs';
import { createSandbox, syntheticModule, loadModules, SandboxError, HOST_NAMES } from './sandbox.mjs';
import * as k6 from './k6.mjs';
import * as k6Metrics from './k6-metrics.mjs';
import * as k6Sql from './k6-x-sql.mjs';
import * as k6SqlDriver from './k6-x-sql-driver-postgres.mjs';
import { MODULES } from './modules.mjs';

const d = workerData;
vu.id = d.id;
vu.ctl = new Int32Array(d.ctlSab);
vu.sqlPort = d.sqlPort;
vu.sqlFlag = new Int32Array(d.sqlSab);
vu.sqlDirect = d.sqlMode !== 'bridge';
vu.post = (m) => parentPort.postMessage(m);
vu.lastFlush = now();
const exit = process.exit.bind(process);

const RUNTIME_DIR = new URL('./', import.meta.url).href;
/** The script's own frames: the sandbox's and this thread's frames say nothing to the script's author. */
function scriptFrames(stack) {
  if (typeof stack !== 'string') return undefined;
  const lines = stack.split('\n');
  const frames = lines.filter((l) => /^\s+at /.test(l) && !l.includes(RUNTIME_DIR) && !l.includes('statebench:sandbox') && !l.includes('node:internal'));
  return [lines[0], ...frames].join('\n');
}

function describe(e) {
  try {
    if (e && typeof e === 'object') return { name: String(e.name ?? 'Error'), message: String(e.message ?? e), stack: scriptFrames(e.stack), code: typeof e.code === 'string' ? e.code : undefined };
    return { name: 'Error', message: String(e) };
  } catch {
    return { name: 'Error', message: 'the script threw a value that cannot be described' };
  }
}

const HOST_NAME = new RegExp(`^(${HOST_NAMES.join('|')}) is not defined$`);

/**
 * An error that means the script reached for something outside k6 (a Node.js global, eval, import()):
 * a SandboxError that fails the run, rather than an iteration error a run could shrug off.
 */
function sandboxViolation(e) {
  const { name, message, stack } = describe(e);
  const as = (text) => {
    const err = new SandboxError(text);
    err.stack = [`SandboxError: ${text}`, ...(stack ?? '').split('\n').slice(1)].join('\n');
    return err;
  };
  if (name === 'SandboxError') return as(message);
  if (name === 'ReferenceError' && HOST_NAME.test(message)) {
    return as(`${message}: k6 scripts run in a sandbox with only what k6 offers (no Node.js APIs such as process or require)`);
  }
  if (name === 'EvalError' && /[Cc]ode generation from strings/.test(message)) {
    return as('code generation from strings (eval, new Function) is not available in the built-in runner\'s sandbox');
  }
  return null;
}

const isNamed = (e, name) => {
  try {
    return e !== null && typeof e === 'object' && e.name === name;
  } catch {
    return false;
  }
};

const entryPath = d.pathMap.find(([url]) => url === d.entryUrl)?.[1] ?? d.entryUrl;
const { context, membrane } = createSandbox({
  scriptDir: dirname(entryPath),
  write: (level, line) => (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${line}\n`),
  inInit: () => vu.inInit,
  unsupported: (what) => {
    throw new UnsupportedError(`${what} is not supported by the built-in runner; k6 scripts import k6 modules and local files`);
  },
});

const runtimeUrl = (file) => pathToFileURL(new URL(`./${file}`, import.meta.url).pathname).href;
const k6Modules = new Map();
for (const [name, ns] of [['k6', k6], ['k6/metrics', k6Metrics], ['k6/x/sql', k6Sql], ['k6/x/sql/driver/postgres', k6SqlDriver]]) {
  const overrides = {};
  if (name === 'k6') {
    overrides.randomSeed = membrane.randomSeed;
    const def = membrane.importValue(ns.default);
    def.randomSeed = membrane.randomSeed;
    overrides.default = def;
  }
  k6Modules.set(runtimeUrl(MODULES[name].file), syntheticModule(context, membrane, ns, name, overrides));
}

const envFor = (env) => membrane.importValue({ ...env });
membrane.setGlobal('__VU', d.id);
membrane.setGlobal('__ITER', 0);
membrane.setGlobal('__ENV', envFor(d.env));

function exportInfo(mod) {
  const info = {};
  for (const [k, v] of Object.entries(mod)) info[k] = typeof v === 'function' ? (v.constructor?.name === 'AsyncFunction' ? 'async' : 'function') : typeof v;
  return info;
}

function cloneable(v) {
  try {
    return structuredClone(v);
  } catch {
    return JSON.parse(JSON.stringify(v ?? null));
  }
}

function fatal(phase, e) {
  flush();
  parentPort.postMessage({ t: 'fatal', vu: d.id, phase, error: describe(sandboxViolation(e) ?? e) });
}

/** The sandbox refuses: the run fails with this error, whatever the script does with it. */
let violation = null;
function refuse(what) {
  violation ??= new SandboxError(`${what} is not available in the built-in runner's sandbox: k6 scripts import only k6 modules and local files`);
  throw membrane.importError(violation);
}

/** Runs setup()/teardown() in VU 0, inside the `::setup`/`::teardown` group as k6 does. */
function lifecycle(mod, name, arg) {
  const fn = mod[name];
  if (typeof fn !== 'function') return undefined;
  const prev = vu.groupPath;
  vu.groupPath = `::${name}`;
  try {
    return fn(arg);
  } finally {
    vu.groupPath = prev;
    flush();
  }
}

async function main() {
  let mod;
  try {
    const entry = await loadModules({ context, membrane, entryUrl: d.entryUrl, pathMap: d.pathMap, k6Modules, refuse });
    await entry.evaluate();
    if (violation) throw violation;
    mod = entry.namespace;
  } catch (e) {
    fatal('init', violation ?? e);
    return;
  } finally {
    vu.inInit = false;
    flush();
  }

  if (d.role === 'init') {
    parentPort.postMessage({ t: 'init', options: cloneable(mod.options ?? {}), exports: exportInfo(mod) });
    parentPort.on('message', (m) => {
      if (m.t === 'setup') {
        try {
          const data = lifecycle(mod, 'setup');
          parentPort.postMessage({ t: 'setup-done', data: data === undefined ? null : JSON.stringify(data) });
        } catch (e) {
          if (isNamed(e, 'UnsupportedError') || violation || sandboxViolation(e)) fatal('setup', violation ?? e);
          else parentPort.postMessage({ t: 'setup-error', error: describe(e) });
        }
      } else if (m.t === 'teardown') {
        try {
          lifecycle(mod, 'teardown', m.data == null ? undefined : membrane.parseJson(m.data));
          parentPort.postMessage({ t: 'teardown-done' });
        } catch (e) {
          if (isNamed(e, 'UnsupportedError') || violation || sandboxViolation(e)) fatal('teardown', violation ?? e);
          else parentPort.postMessage({ t: 'teardown-error', error: describe(e) });
        }
      } else if (m.t === 'exit') {
        flush();
        exit(0);
      }
    });
    return;
  }

  const fns = d.scenarios.map((s) => mod[s.exec]);
  let setupData = d.setupData;
  if (setupData === undefined) {
    parentPort.postMessage({ t: 'ready', vu: d.id });
    const start = await new Promise((resolve) => parentPort.once('message', resolve));
    setupData = start.setupData;
  } else {
    parentPort.postMessage({ t: 'ready', vu: d.id });
  }
  // Parsed and built in the sandbox's realm: the script gets no host objects.
  const data = setupData == null ? undefined : membrane.parseJson(setupData);
  const baseEnv = envFor(d.env);
  const envs = d.scenarios.map((s) => (s.env ? envFor({ ...d.env, ...s.env }) : null));

  const runIteration = (s) => {
    vu.scen = s;
    vu.failedKind = null;
    membrane.setGlobal('__ITER', vu.iter);
    membrane.setGlobal('__ENV', envs[s] ?? baseEnv);
    let err = null;
    Atomics.add(vu.ctl, CTL.STARTED, 1);
    const t0 = now();
    try {
      fns[s](data);
      if (d.minIterationDurationMs > 0) {
        const left = d.minIterationDurationMs - (now() - t0);
        if (left > 0) blockFor(left);
      }
    } catch (e) {
      // Interrupted, or failed because of the interrupt (its server session was ended): not counted.
      if (isNamed(e, 'InterruptError') || Atomics.load(vu.ctl, CTL.STOP) === STOP.INTERRUPT) {
        vu.iter++;
        vu.groupPath = '';
        vu.scen = -1;
        return true;
      }
      if (isNamed(e, 'UnsupportedError')) throw e;
      if (violation) throw violation;
      const v = sandboxViolation(e);
      if (v) throw v;
      err = describe(e);
    }
    vu.groupPath = '';
    vu.buf.push([REC.ITER, s, t0, now() - t0, vu.failedKind, err, vu.iter]);
    Atomics.add(vu.ctl, CTL.ENDED, 1);
    vu.iter++;
    vu.scen = -1;
    return true;
  };

  const ctl = vu.ctl;
  const perVuDone = new Map();
  try {
    for (;;) {
      const cmd = Atomics.load(ctl, CTL.CMD);
      if (cmd === CMD.NONE) {
        flush();
        if (now() > d.deadlineAbs) break;
        Atomics.wait(ctl, CTL.CMD, CMD.NONE, 1000);
        continue;
      }
      if (cmd === CMD.EXIT) break;
      const s = Atomics.load(ctl, CTL.SCEN);
      const sc = d.scenarios[s];
      if (cmd === CMD.LOOP) {
        const shared = sc.sharedSab ? new Int32Array(sc.sharedSab) : null;
        for (;;) {
          if (Atomics.load(ctl, CTL.STOP) !== STOP.RUN || now() > d.deadlineAbs) break;
          if (sc.perVuIterations) {
            const n = perVuDone.get(s) ?? 0;
            if (n >= sc.perVuIterations) break;
            perVuDone.set(s, n + 1);
          }
          if (shared && Atomics.add(shared, 0, 1) >= sc.sharedTotal) break;
          runIteration(s);
          maybeFlush();
        }
      } else if (cmd === CMD.ONE) {
        runIteration(s);
      }
      vu.buf.push([REC.DONE, s]);
      Atomics.store(ctl, CTL.CMD, CMD.NONE);
      Atomics.store(ctl, CTL.STATE, STATE.IDLE);
      flush();
    }
  } catch (e) {
    fatal('run', e);
  }
  flush();
  exit(0);
}

main().catch((e) => fatal('internal', e));
