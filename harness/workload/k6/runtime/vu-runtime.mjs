// State of one VU (one worker thread = one JavaScript runtime, as in k6) shared by the k6 module
// implementations: VU identity, current scenario and group, the metric sample buffer, the control
// words the coordinator drives it with, and the blocking SQL bridge.
//
// Requests to the SQL host thread (connect, close, and statements in bridge mode) block the VU, as
// xk6-sql calls do: the VU posts the request and waits in Atomics.wait on a shared counter until the
// host has posted the answer; receiveMessageOnPort then takes it without an event-loop turn. In
// direct mode statements do not come here: the VU runs them on its own socket (pg-sync.mjs).
import { receiveMessageOnPort } from 'node:worker_threads';

export class UnsupportedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UnsupportedError';
  }
}

/** Thrown into an iteration the coordinator interrupts (gracefulStop/gracefulRampDown expired). */
export class InterruptError extends Error {
  constructor() {
    super('iteration interrupted');
    this.name = 'InterruptError';
  }
}

// Control words (Int32Array over a SharedArrayBuffer, one per VU), written by the coordinator; the
// VU writes STATE and the two iteration counters. The counters are the VU's own account of its
// iterations: started, and ended with a record (completed or failed). An iteration started and not
// ended was interrupted (thrown out, or cut short with the thread). They stay readable after the
// thread is gone, so no record lost with a terminated thread and no interrupt that arrived after
// the iteration had ended can make the counts disagree with what the iterations did.
export const CTL = { CMD: 0, SCEN: 1, STOP: 2, STATE: 3, STARTED: 4, ENDED: 5 };
export const CTL_WORDS = 6;
export const CMD = { NONE: 0, LOOP: 1, ONE: 2, EXIT: 3 };
export const STOP = { RUN: 0, GRACEFUL: 1, INTERRUPT: 2 };
export const STATE = { IDLE: 0, BUSY: 1 };

// Record kinds in a batch posted to the coordinator.
export const REC = { ITER: 0, SAMPLE: 1, DEF: 2, DONE: 3 };

/** Longest a single SQL call may block before the VU gives up on the host. */
const SQL_MAX_WAIT_MS = 15 * 60_000;

export const now = () => performance.timeOrigin + performance.now();

export const vu = {
  id: 0,
  iter: 0,
  /** Index of the running scenario, -1 outside scenarios (init, setup, teardown). */
  scen: -1,
  inInit: true,
  groupPath: '',
  /** Kind set by `statebench_errors.add()` during the current iteration. */
  failedKind: null,
  /** @type {Int32Array | null} */
  ctl: null,
  /** @type {import('node:worker_threads').MessagePort | null} */
  sqlPort: null,
  /** @type {Int32Array | null} */
  sqlFlag: null,
  seq: 0,
  nextHandle: 1,
  /** Ask the SQL host for the connection's socket (direct mode) instead of sending it statements. */
  sqlDirect: true,
  /** @type {unknown[]} */
  buf: [],
  lastFlush: 0,
  /** @type {(msg: object) => void} */
  post: () => {},
  defs: new Map(),
};

export function flush() {
  if (!vu.buf.length) return;
  const recs = vu.buf;
  vu.buf = [];
  vu.lastFlush = now();
  vu.post({ t: 'batch', vu: vu.id, recs });
}

export function maybeFlush() {
  if (vu.buf.length >= 256 || now() - vu.lastFlush >= 20) flush();
}

/** A metric sample; the coordinator adds scenario/group/global tags. */
export function emit(name, value, tags) {
  vu.buf.push([REC.SAMPLE, name, value, now(), vu.scen, vu.groupPath, tags ?? null]);
}

export function define(name, type, isTime) {
  if (vu.defs.has(name)) {
    const prev = vu.defs.get(name);
    if (prev !== type) throw new Error(`metric "${name}" is already declared as a ${prev}`);
    return;
  }
  vu.defs.set(name, type);
  vu.buf.push([REC.DEF, name, type, !!isTime]);
}

function interrupted() {
  return vu.ctl !== null && Atomics.load(vu.ctl, CTL.STOP) === STOP.INTERRUPT;
}

/** Throws into the iteration if the coordinator interrupted it. */
export function checkInterrupt() {
  if (interrupted()) throw new InterruptError();
}

/**
 * Blocks for `ms`, waking early only to be interrupted. An interrupt that arrived while the thread
 * waited to run again after its sleep ran out still interrupts: on a busy host that wait can be
 * longer than the sleep.
 */
export function blockFor(ms) {
  const end = now() + ms;
  for (;;) {
    if (interrupted()) throw new InterruptError();
    const left = end - now();
    if (left <= 0) return;
    if (vu.ctl) Atomics.wait(vu.ctl, CTL.STOP, Atomics.load(vu.ctl, CTL.STOP), Math.min(left, 1000));
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(left, 1000));
  }
}

/** One request to the SQL host, answered synchronously. */
export function sqlCall(msg) {
  const seq = ++vu.seq;
  msg.seq = seq;
  vu.sqlPort.postMessage(msg);
  const deadline = now() + SQL_MAX_WAIT_MS;
  for (;;) {
    // Read the counter before looking at the queue: an answer posted after the look bumps the
    // counter past `seen`, so the wait below cannot miss it.
    const seen = Atomics.load(vu.sqlFlag, 0);
    const m = receiveMessageOnPort(vu.sqlPort);
    if (m) {
      if (m.message.seq === seq) return m.message;
      continue; // the late answer of an interrupted call
    }
    if (interrupted()) throw new InterruptError();
    if (now() > deadline) throw new Error(`no answer from the SQL host within ${SQL_MAX_WAIT_MS / 1000}s`);
    Atomics.wait(vu.sqlFlag, 0, seen, 100);
  }
}

/** A member that the built-in runner does not implement fails with a message naming it. */
export function guarded(obj, label, supported) {
  const passThrough = new Set(['then', 'toJSON', 'constructor', 'toString', 'valueOf', 'inspect']);
  return new Proxy(obj, {
    get(target, prop) {
      if (typeof prop === 'symbol' || prop in target || passThrough.has(prop)) return target[prop];
      throw new UnsupportedError(`${label}.${prop} is not supported by the built-in runner (supported: ${supported.join(', ')}); run this script with k6`);
    },
  });
}
