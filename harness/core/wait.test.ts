import { describe, expect, it } from 'vitest';
import { met, notYet, waitFor } from './wait.ts';
import { WaitTimeoutError, StatebenchError } from '../errors.ts';
import { FakeClock } from '../testing/fake-clock.ts';

describe('waitFor', () => {
  it('returns what the first look that finds the condition met found, pausing the interval between looks', async () => {
    const clock = new FakeClock();
    let n = 0;
    const v = await waitFor('the third look', () => (++n === 3 ? met('found') : notYet(`look ${n}`)), { timeoutMs: 10_000, intervalMs: 250, clock });
    expect(v).toBe('found');
    expect(clock.sleeps).toEqual([250, 250]);
    expect(clock.now()).toBe(500);
  });

  it('times out with a typed error naming what it waited for, how long, and the last state seen', async () => {
    const clock = new FakeClock();
    let n = 0;
    const e = await waitFor('PostgreSQL accepting writes', () => notYet(`in recovery (${++n})`), { timeoutMs: 1_000, intervalMs: 300, clock, hint: 'see pg.log' }).catch((x) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect(e).toBeInstanceOf(StatebenchError);
    expect(e.message).toBe('timed out after 1000 ms waiting for PostgreSQL accepting writes (5 looks); last seen: in recovery (5)');
    expect(e.hint).toBe('see pg.log');
    expect((e as WaitTimeoutError).lastState).toBe('in recovery (5)');
    // 300, 300, 300, then the 100 ms left: the last look happens at the deadline, not after it.
    expect(clock.sleeps).toEqual([300, 300, 300, 100]);
    expect(clock.now()).toBe(1_000);
  });

  it('tells each look how much time is left, so a look can bound its own request', async () => {
    const clock = new FakeClock();
    const left: number[] = [];
    await waitFor('x', (remaining) => {
      left.push(remaining);
      clock.advance(400);
      return left.length === 3 ? met(true) : notYet('no');
    }, { timeoutMs: 2_000, intervalMs: 100, clock });
    expect(left).toEqual([2_000, 1_500, 1_000]);
  });

  it('computes a lazily described state only when it times out', async () => {
    const clock = new FakeClock();
    let described = 0;
    const e = await waitFor('nbdkit ready', () => notYet(() => `log tail ${++described}`), { timeoutMs: 200, intervalMs: 50, clock }).catch((x) => x);
    expect(e.lastState).toBe('log tail 1');
    expect(described).toBe(1);
  });

  it('ends at once with the error of a look that throws (a process that exited will not become ready)', async () => {
    const clock = new FakeClock();
    let n = 0;
    const e = await waitFor('etcd ready', () => {
      if (++n === 2) throw new StatebenchError('etcd exited while starting');
      return notYet('no answer');
    }, { timeoutMs: 10_000, clock }).catch((x) => x);
    expect(e.message).toBe('etcd exited while starting');
    expect(n).toBe(2);
  });

  it('stops with the signal\'s reason when aborted, before or between looks', async () => {
    const ac = new AbortController();
    ac.abort(new Error('interrupted'));
    await expect(waitFor('x', () => notYet('no'), { timeoutMs: 1_000, signal: ac.signal, clock: new FakeClock() })).rejects.toThrow('interrupted');
    const later = new AbortController();
    let n = 0;
    const p = waitFor('x', () => {
      if (++n === 2) later.abort(new Error('stopped meanwhile'));
      return notYet('no');
    }, { timeoutMs: 10_000, signal: later.signal, clock: new FakeClock() });
    await expect(p).rejects.toThrow('stopped meanwhile');
    expect(n).toBe(2);
  });

  it('backs off by look number, never past the deadline', async () => {
    const clock = new FakeClock();
    await waitFor('x', () => notYet('refused'), { timeoutMs: 1_000, intervalMs: (look) => Math.min(50 * 2 ** (look - 1), 400), clock }).catch(() => {});
    expect(clock.sleeps).toEqual([50, 100, 200, 400, 250]);
  });

  it('is bounded in looks as well as time, so a clock that stands still cannot spin forever', async () => {
    const still = { now: () => 0, sleep: async () => {} };
    let n = 0;
    const e = await waitFor('x', () => notYet(`look ${++n}`), { timeoutMs: 1_000, intervalMs: 100, clock: still }).catch((x) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect(n).toBe(11);
    const capped = await waitFor('y', () => notYet('no'), { timeoutMs: 1_000, intervalMs: 0, maxLooks: 3, clock: still }).catch((x) => x);
    expect(capped.message).toMatch(/\(3 looks\)/);
  });

  it('runs on real timers by default', async () => {
    let n = 0;
    expect(await waitFor('the second look', () => (++n === 2 ? met(n) : notYet('first')), { timeoutMs: 5_000, intervalMs: 1 })).toBe(2);
  });
});
