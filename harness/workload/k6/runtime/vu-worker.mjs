// One k6 VU: a worker thread with its own JavaScript runtime that evaluates the script's init code,
// then runs iterations as the coordinator commands through its control words. Role `init` is k6's
// VU 0: it reports `options` and the exports, and runs setup() and teardown().
import { workerData, parentPort } from 'node:worker_threads';
import { vu, CTL, CMD, STOP, STATE, REC, flush, maybeFlush, blockFor, now, InterruptError, UnsupportedError } from './vu-runtime.mjs';

const d = workerData;
vu.id = d.id;
vu.ctl = new Int32Array(d.ctlSab);
vu.sqlPort = d.sqlPort;
vu.sqlFlag = new Int32Array(d.sqlSab);
vu.sqlDirect = d.sqlMode !== 'bridge';
vu.post = (m) => parentPort.postMessage(m);
vu.lastFlush = now();

function describe(e) {
  if (e && typeof e === 'object') return { name: e.name ?? 'Error', message: String(e.message ?? e), stack: typeof e.stack === 'string' ? e.stack : undefined, code: e.code };
  return { name: 'Error', message: String(e) };
}

function unsupportedGlobal(name) {
  return () => {
    throw new UnsupportedError(`${name}() is not supported by the built-in runner; run this script with k6`);
  };
}

globalThis.__VU = d.id;
globalThis.__ITER = 0;
globalThis.__ENV = { ...d.env };
globalThis.open = unsupportedGlobal('open');
globalThis.require = unsupportedGlobal('require');

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
  parentPort.postMessage({ t: 'fatal', vu: d.id, phase, error: describe(e) });
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
    mod = await import(d.entryUrl);
  } catch (e) {
    fatal('init', e);
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
          if (e instanceof UnsupportedError) fatal('setup', e);
          else parentPort.postMessage({ t: 'setup-error', error: describe(e) });
        }
      } else if (m.t === 'teardown') {
        try {
          lifecycle(mod, 'teardown', m.data == null ? undefined : JSON.parse(m.data));
          parentPort.postMessage({ t: 'teardown-done' });
        } catch (e) {
          if (e instanceof UnsupportedError) fatal('teardown', e);
          else parentPort.postMessage({ t: 'teardown-error', error: describe(e) });
        }
      } else if (m.t === 'exit') {
        flush();
        process.exit(0);
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
  const data = setupData == null ? undefined : JSON.parse(setupData);
  const envs = d.scenarios.map((s) => (s.env ? { ...d.env, ...s.env } : null));
  const baseEnv = globalThis.__ENV;

  const runIteration = (s) => {
    vu.scen = s;
    vu.failedKind = null;
    globalThis.__ITER = vu.iter;
    globalThis.__ENV = envs[s] ?? baseEnv;
    let err = null;
    const t0 = now();
    try {
      fns[s](data);
      if (d.minIterationDurationMs > 0) {
        const left = d.minIterationDurationMs - (now() - t0);
        if (left > 0) blockFor(left);
      }
    } catch (e) {
      // Interrupted, or failed because of the interrupt (its server session was ended): not counted.
      if (e instanceof InterruptError || Atomics.load(vu.ctl, CTL.STOP) === STOP.INTERRUPT) {
        vu.iter++;
        vu.groupPath = '';
        vu.scen = -1;
        return true;
      }
      if (e instanceof UnsupportedError) throw e;
      err = describe(e);
    }
    vu.groupPath = '';
    vu.buf.push([REC.ITER, s, t0, now() - t0, vu.failedKind, err, vu.iter]);
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
  process.exit(0);
}

main().catch((e) => fatal('internal', e));
