import { describe, expect, it } from 'vitest';
import { planRun, parseK6Duration, rampingTarget, arrivalCount, scenarioMaxVus, scenarioInitialVus, planMaxDurationMs, K6OptionsError } from './options.ts';

describe('parseK6Duration', () => {
  it('reads Go durations and millisecond numbers', () => {
    expect(parseK6Duration('30s', 'x')).toBe(30_000);
    expect(parseK6Duration('1m30s', 'x')).toBe(90_000);
    expect(parseK6Duration('1.5s', 'x')).toBe(1500);
    expect(parseK6Duration('250ms', 'x')).toBe(250);
    expect(parseK6Duration('2h', 'x')).toBe(7_200_000);
    expect(parseK6Duration('0', 'x')).toBe(0);
    expect(parseK6Duration(1500, 'x')).toBe(1500);
  });

  it('names the option when a duration is wrong', () => {
    expect(() => parseK6Duration('30 seconds', 'options.duration')).toThrow(/options\.duration: invalid duration "30 seconds"/);
    expect(() => parseK6Duration(-1, 'options.duration')).toThrow(K6OptionsError);
  });
});

describe('planRun: shortcuts, as k6 documents them', () => {
  it('runs one iteration on one VU when nothing is set', () => {
    const p = planRun({});
    expect(p.scenarios).toHaveLength(1);
    expect(p.scenarios[0]).toMatchObject({ name: 'default', executor: 'shared-iterations', vus: 1, iterations: 1, exec: 'default' });
  });

  it('vus + duration is constant-vus', () => {
    expect(planRun({ vus: 5, duration: '10s' }).scenarios[0]).toMatchObject({ executor: 'constant-vus', vus: 5, durationMs: 10_000 });
  });

  it('iterations is shared-iterations, never more VUs than iterations, duration as maxDuration', () => {
    expect(planRun({ vus: 10, iterations: 3, duration: '5s' }).scenarios[0]).toMatchObject({ executor: 'shared-iterations', vus: 3, iterations: 3, maxDurationMs: 5000 });
  });

  it('stages is ramping-vus starting at vus', () => {
    const s = planRun({ vus: 2, stages: [{ duration: '1s', target: 4 }] }).scenarios[0];
    expect(s).toMatchObject({ executor: 'ramping-vus', startVUs: 2 });
    expect(s.stages).toEqual([{ durationMs: 1000, target: 4 }]);
  });

  it('statebench overrides replace the scenarios with constant-vus', () => {
    const p = planRun({ scenarios: { a: { executor: 'constant-arrival-rate', rate: 5, duration: '1s', preAllocatedVUs: 1 } } }, { vus: 3, durationMs: 2000 });
    expect(p.scenarios).toEqual([expect.objectContaining({ name: 'default', executor: 'constant-vus', vus: 3, durationMs: 2000 })]);
  });

  it('an override of vus alone takes the duration from the script', () => {
    expect(planRun({ duration: '4s' }, { vus: 2 }).scenarios[0]).toMatchObject({ vus: 2, durationMs: 4000 });
    expect(() => planRun({}, { vus: 2 })).toThrow(/needs a duration/);
  });
});

describe('planRun: scenarios', () => {
  const scenarios = {
    reads: { executor: 'constant-vus', vus: 2, duration: '3s', exec: 'reads', env: { MODE: 'r' }, tags: { kind: 'read' } },
    ramp: { executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '2s', target: 3 }, { duration: '1s', target: 0 }], gracefulRampDown: '0s', startTime: '1s' },
    open: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '2s', preAllocatedVUs: 2, maxVUs: 5 },
    each: { executor: 'per-vu-iterations', vus: 2, iterations: 4 },
  };

  it('takes every field with k6 defaults for the rest', () => {
    const p = planRun({ scenarios, thresholds: { iteration_duration: ['p(95)<100', { threshold: 'max<1000', abortOnFail: true, delayAbortEval: '2s' }] } });
    const [reads, ramp, open, each] = p.scenarios;
    expect(reads).toMatchObject({ exec: 'reads', env: { MODE: 'r' }, tags: { kind: 'read' }, gracefulStopMs: 30_000 });
    expect(ramp).toMatchObject({ startVUs: 0, gracefulRampDownMs: 0, startTimeMs: 1000, exec: 'default' });
    expect(open).toMatchObject({ rate: 20, timeUnitMs: 1000, preAllocatedVUs: 2, maxVUs: 5 });
    expect(each).toMatchObject({ executor: 'per-vu-iterations', vus: 2, iterations: 4 });
    expect(p.thresholds.iteration_duration).toEqual([
      { source: 'p(95)<100', abortOnFail: false, delayAbortEvalMs: 0 },
      { source: 'max<1000', abortOnFail: true, delayAbortEvalMs: 2000 },
    ]);
    expect(p.scenarios.map(scenarioMaxVus)).toEqual([2, 3, 5, 2]);
    expect(p.scenarios.map(scenarioInitialVus)).toEqual([2, 3, 2, 2]);
    expect(planMaxDurationMs(p)).toBe(600_000 + 30_000);
  });

  it('rejects an executor it does not run, naming it and the scenario', () => {
    expect(() => planRun({ scenarios: { x: { executor: 'externally-controlled', vus: 1, maxVUs: 2, duration: '1s' } } })).toThrow(
      /options\.scenarios\.x\.executor "externally-controlled" is not supported by the built-in runner/,
    );
  });

  it('rejects an option that is not the executor’s', () => {
    expect(() => planRun({ scenarios: { x: { executor: 'constant-vus', vus: 1, duration: '1s', rate: 5 } } })).toThrow(/options\.scenarios\.x\.rate is not an option of the constant-vus executor/);
  });

  it('rejects shortcut options mixed with scenarios, and unknown top-level options', () => {
    expect(() => planRun({ duration: '1s', scenarios })).toThrow(/options\.duration cannot be combined with options\.scenarios/);
    expect(() => planRun({ rps: 10 })).toThrow(/options\.rps is not supported by the built-in runner/);
    // HTTP-only options do not matter to a SQL script.
    expect(() => planRun({ insecureSkipTLSVerify: true, discardResponseBodies: true })).not.toThrow();
  });

  it('requires what each executor requires', () => {
    expect(() => planRun({ scenarios: { x: { executor: 'constant-vus', vus: 1 } } })).toThrow(/duration is required/);
    expect(() => planRun({ scenarios: { x: { executor: 'constant-arrival-rate', rate: 1, duration: '1s' } } })).toThrow(/preAllocatedVUs: expected a whole number/);
    expect(() => planRun({ scenarios: { x: { executor: 'constant-arrival-rate', rate: 1, duration: '1s', preAllocatedVUs: 3, maxVUs: 2 } } })).toThrow(/maxVUs \(2\) must not be below/);
    expect(() => planRun({ scenarios: { x: { executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '1s', target: 0 }] } } })).toThrow(/greater than 0/);
  });
});

describe('rampingTarget', () => {
  const s = { startVUs: 0, stages: [{ durationMs: 1000, target: 4 }, { durationMs: 0, target: 2 }, { durationMs: 1000, target: 2 }, { durationMs: 1000, target: 0 }] };
  it('adds a VU when the ramp crosses the next whole number, removes one going down', () => {
    expect([0, 249, 250, 500, 999].map((t) => rampingTarget(s, t))).toEqual([0, 0, 1, 2, 3]);
    // A zero-length stage jumps.
    expect(rampingTarget(s, 1000)).toBe(2);
    expect(rampingTarget(s, 1999)).toBe(2);
    // 2 → 0 over a second: ceil on the way down.
    expect([2000, 2001, 2500, 2501, 2999, 3000].map((t) => rampingTarget(s, t))).toEqual([2, 2, 1, 1, 1, 0]);
  });
});

describe('arrivalCount', () => {
  it('starts one iteration every timeUnit/rate from 0 to before the end', () => {
    expect(arrivalCount({ rate: 50, timeUnitMs: 1000, durationMs: 4000 })).toBe(200);
    expect(arrivalCount({ rate: 3, timeUnitMs: 1000, durationMs: 1000 })).toBe(3);
    expect(arrivalCount({ rate: 1, timeUnitMs: 300, durationMs: 1000 })).toBe(4); // 0, 300, 600, 900
    expect(arrivalCount({ rate: 7, timeUnitMs: 60_000, durationMs: 30_000 })).toBe(4); // every 8.57 s
  });
});
