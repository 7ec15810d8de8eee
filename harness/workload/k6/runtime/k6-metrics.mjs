// `k6/metrics`: Counter, Gauge, Rate, Trend. Declared in the init context, added to in VU code, as in k6.
import { vu, emit, define, guarded } from './vu-runtime.mjs';

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/;

/** The statebench convention: a script counts a failed transaction by adding 1 to this counter, tagged `kind`. */
const ERRORS_METRIC = 'statebench_errors';

class Metric {
  constructor(type, name, isTime) {
    if (!vu.inInit) throw new Error(`metric "${name}" must be declared in the init context (at the top level of the script)`);
    if (typeof name !== 'string' || !NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}: use letters, digits and _ (at most 128), not starting with a digit`);
    define(name, type, isTime);
    this.name = name;
    this.type = type;
    this.isTime = !!isTime;
  }

  add(value, tags) {
    if (vu.inInit) throw new Error(`${this.name}.add() is not allowed in the init context`);
    let v = value;
    if (typeof v === 'boolean') v = v ? 1 : 0;
    v = Number(v);
    if (!Number.isFinite(v)) throw new Error(`${this.name}.add(${String(value)}): the value must be a finite number`);
    if (tags !== undefined && (tags === null || typeof tags !== 'object')) throw new Error(`${this.name}.add(): tags must be an object`);
    if (this.name === ERRORS_METRIC && v > 0) vu.failedKind = tags?.kind ? String(tags.kind) : 'error';
    emit(this.name, v, tags ?? null);
    return true;
  }
}

export class Counter extends Metric {
  constructor(name, isTime = false) {
    super('counter', name, isTime);
  }
}
export class Gauge extends Metric {
  constructor(name, isTime = false) {
    super('gauge', name, isTime);
  }
}
export class Rate extends Metric {
  constructor(name, isTime = false) {
    super('rate', name, isTime);
  }
}
export class Trend extends Metric {
  constructor(name, isTime = false) {
    super('trend', name, isTime);
  }
}

export default guarded({ Counter, Gauge, Rate, Trend }, 'k6/metrics', ['Counter', 'Gauge', 'Rate', 'Trend']);
