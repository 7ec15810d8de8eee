import { describe, expect, it } from 'vitest';
import { MetricStore, Sink, parseThreshold, parseMetricKey, K6ThresholdError } from './metrics.ts';

describe('Sink', () => {
  it('computes trend percentiles by linear interpolation between ranks, as k6 does', () => {
    const s = new Sink('trend');
    for (const v of [10, 20, 30, 40, 50]) s.add(v);
    expect(s.stat('med', 1000)).toBe(30);
    expect(s.stat('p(90)', 1000)).toBe(46); // 0.9 * 4 = 3.6 → 40 + 0.6 * 10
    expect(s.stat('p(95)', 1000)).toBe(48);
    expect(s.stat('avg', 1000)).toBe(30);
    expect(s.stat('min', 1000)).toBe(10);
    expect(s.stat('max', 1000)).toBe(50);
    expect(s.stat('count', 1000)).toBe(5);
  });

  it('counts rate passes as non-zero samples, counter rate per second', () => {
    const r = new Sink('rate');
    for (const v of [1, 0, 1, 1]) r.add(v);
    expect(r.stat('rate', 0)).toBe(0.75);
    const c = new Sink('counter');
    c.add(3);
    c.add(7);
    expect(c.stat('count', 2000)).toBe(10);
    expect(c.stat('rate', 2000)).toBe(5);
    const g = new Sink('gauge');
    for (const v of [3, 9, 5]) g.add(v);
    expect([g.stat('value', 0), g.stat('min', 0), g.stat('max', 0)]).toEqual([5, 3, 9]);
  });
});

describe('thresholds', () => {
  it('parses k6 expressions and metric keys with tag filters', () => {
    expect(parseThreshold('p(99.9) < 250')).toMatchObject({ stat: 'p(99.9)', op: '<', value: 250 });
    expect(parseThreshold('rate>=0.95')).toMatchObject({ stat: 'rate', op: '>=', value: 0.95 });
    expect(() => parseThreshold('p95 < 1')).toThrow(K6ThresholdError);
    expect(parseMetricKey('checks{check:row found,scenario:a}')).toEqual({ name: 'checks', tags: { check: 'row found', scenario: 'a' } });
  });

  it('evaluates on the whole metric and on tag-filtered submetrics', () => {
    const m = new MetricStore();
    m.define('iteration_duration', 'trend', true);
    m.define('checks', 'rate', false);
    m.define('statebench_errors', 'counter', false);
    m.addThresholds({
      iteration_duration: [{ source: 'p(95)<100', abortOnFail: false, delayAbortEvalMs: 0 }],
      'checks{check:a}': [{ source: 'rate==1', abortOnFail: true, delayAbortEvalMs: 0 }],
      'checks{check:b}': [{ source: 'rate>0.5', abortOnFail: false, delayAbortEvalMs: 0 }],
      statebench_errors: [{ source: 'count<1', abortOnFail: false, delayAbortEvalMs: 0 }],
    });
    m.validateThresholds();
    for (let i = 0; i < 100; i++) m.add('iteration_duration', i, {});
    m.add('checks', 1, { check: 'a' });
    m.add('checks', 0, { check: 'b' });
    m.add('checks', 1, { check: 'b' });
    const r = m.evaluate(1000);
    expect(r.map((x) => [x.metric, x.ok])).toEqual([
      ['iteration_duration', true],
      ['checks{check:a}', true],
      ['checks{check:b}', false],
      ['statebench_errors', true], // no samples: passes, as in k6
    ]);
    const exported = m.exportSummary(1000, ['avg', 'p(95)'], r);
    expect(exported['checks{check:b}']).toEqual({ passes: 1, fails: 1, value: 0.5, thresholds: { 'rate>0.5': true } });
    expect(exported.iteration_duration).toMatchObject({ avg: 49.5, thresholds: { 'p(95)<100': false } });
  });

  it('rejects a threshold on a metric the script does not have, or an aggregation of the wrong type', () => {
    const m = new MetricStore();
    m.define('checks', 'rate', false);
    m.addThresholds({ nope: [{ source: 'count<1', abortOnFail: false, delayAbortEvalMs: 0 }] });
    expect(() => m.validateThresholds()).toThrow(/no metric named "nope"/);
    const n = new MetricStore();
    n.define('checks', 'rate', false);
    n.addThresholds({ checks: [{ source: 'p(95)<1', abortOnFail: false, delayAbortEvalMs: 0 }] });
    expect(() => n.validateThresholds()).toThrow(/p\(95\) is not an aggregation of a rate metric/);
  });
});
