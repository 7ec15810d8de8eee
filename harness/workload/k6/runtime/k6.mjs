// `k6`: check, group, sleep, fail, randomSeed — with k6's semantics and metrics (checks, group_duration).
import { vu, emit, define, blockFor, now, guarded, UnsupportedError } from './vu-runtime.mjs';

export function check(val, sets, tags) {
  if (vu.inInit) throw new Error('check() is not allowed in the init context; call it in default, setup, teardown or a scenario function');
  define('checks', 'rate', false);
  let all = true;
  for (const name of Object.keys(sets ?? {})) {
    const c = sets[name];
    const ok = !!(typeof c === 'function' ? c(val) : c);
    emit('checks', ok ? 1 : 0, tags ? { ...tags, check: name } : { check: name });
    if (!ok) all = false;
  }
  return all;
}

export function group(name, fn) {
  if (vu.inInit) throw new Error('group() is not allowed in the init context');
  if (typeof name !== 'string' || name.includes('::')) throw new Error(`group name ${JSON.stringify(name)} must be a string without "::"`);
  if (typeof fn !== 'function') throw new Error('group() needs a function as its second argument');
  if (fn.constructor?.name === 'AsyncFunction') throw new UnsupportedError(`group("${name}", async function) is not supported by the built-in runner; use a plain function`);
  define('group_duration', 'trend', true);
  const prev = vu.groupPath;
  vu.groupPath = `${prev}::${name}`;
  const t0 = now();
  try {
    return fn();
  } finally {
    emit('group_duration', now() - t0, null);
    vu.groupPath = prev;
  }
}

export function sleep(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s < 0) throw new Error(`sleep() needs a non-negative number of seconds, got ${seconds}`);
  blockFor(s * 1000);
}

export function fail(message) {
  throw new Error(message === undefined ? 'fail() called' : String(message));
}

/** Seeds Math.random (mulberry32), so a script that calls it gets a repeatable sequence. */
export function randomSeed(seed) {
  let a = Number(seed) >>> 0;
  Math.random = function random() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default guarded({ check, fail, group, randomSeed, sleep }, 'k6', ['check', 'fail', 'group', 'randomSeed', 'sleep']);
