import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { PhaseRecorder, type SecondSample } from './recorder.ts';
import { decode } from '../measure/histogram.ts';

// The recorder's clock and its ticker are both driven by vitest's fake timers, so every "second"
// here is exact and the test never waits.
let now = 0;
const clock = () => now;
const advanceTo = (ms: number) => {
  vi.advanceTimersByTime(ms - now);
  now = ms;
};

beforeEach(() => {
  vi.useFakeTimers();
  now = 0;
});
afterEach(() => vi.useRealTimers());

function recorder(windowMs?: number) {
  const samples: SecondSample[] = [];
  const r = new PhaseRecorder(clock, (s) => samples.push(s), { windowMs });
  return { r, samples };
}

describe('PhaseRecorder: edges of the measured window', () => {
  it('counts a transaction only when it started and ended inside the window', () => {
    const { r, samples } = recorder(3000);
    now = 10_000;
    r.start();
    advanceTo(10_004);
    r.ok(10); // started 6 ms before the window: warmup work
    advanceTo(10_500);
    r.ok(2);
    advanceTo(12_999);
    r.ok(2);
    advanceTo(13_000);
    r.ok(2); // ends exactly at the deadline: inside
    advanceTo(13_020);
    r.ok(25); // in flight when the window closed
    r.error('timeout');
    r.stop();
    const s = r.summary();
    expect(s.transactions).toBe(3);
    expect(s.edges).toEqual({ startedBeforeWindow: 1, endedAfterWindow: 2 });
    expect(s.durationMs).toBe(3000);
    expect(s.tps).toBe(1);
    expect(s.errors).toBe(0);
    // Three whole seconds, no partial bucket; the deadline transaction is in the third.
    expect(samples.map((x) => [x.second, x.tps, x.partial ?? false])).toEqual([
      [1, 1, false],
      [2, 0, false],
      [3, 2, false],
    ]);
    expect(decode(samples[2].hist).totalCount).toBe(2);
    expect(samples.map((x) => x.tMs)).toEqual([11_000, 12_000, 13_000]);
  });

  it('buckets by completion time even when the ticker is late', () => {
    const { r, samples } = recorder(2000);
    r.start();
    now = 999;
    r.ok(1);
    // The ticker has not fired yet; a completion at 1001 belongs to the second second.
    now = 1001;
    r.ok(1);
    advanceTo(2000);
    r.stop();
    expect(samples.map((x) => x.tps)).toEqual([1, 1]);
  });

  it('emits a short last bucket flagged partial, with its rate normalised, outside the per-second spread', () => {
    const { r, samples } = recorder(2500);
    r.start();
    for (let t = 100; t < 2500; t += 100) {
      advanceTo(t);
      r.ok(1);
    }
    advanceTo(2600);
    r.stop();
    const last = samples.at(-1)!;
    // Completions at 100…900 ms, 1000…1900 ms, then 2000…2400 ms in the last half second.
    expect(last).toMatchObject({ second: 3, partial: true, spanMs: 500, count: 5, tps: 10 });
    expect(samples.slice(0, 2).map((x) => x.tps)).toEqual([9, 10]);
    const s = r.summary();
    expect(s.tpsPerSecond).toMatchObject({ min: 9, max: 10, count: 2 });
    expect(s.transactions).toBe(24);
    expect(s.durationMs).toBe(2500);
    expect(s.tps).toBeCloseTo(9.6, 6);
  });

  it('without a window, stop() closes it: a phase stopped early ends there', () => {
    const { r, samples } = recorder();
    r.start();
    advanceTo(1500);
    r.ok(3);
    r.stop();
    r.ok(1);
    expect(r.summary()).toMatchObject({ transactions: 1, durationMs: 1500, edges: { startedBeforeWindow: 0, endedAfterWindow: 1 } });
    expect(samples).toHaveLength(2);
    expect(samples[1]).toMatchObject({ partial: true, spanMs: 500, tps: 2 });
  });
});
