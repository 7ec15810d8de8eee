import { describe, expect, it } from 'vitest';
import { met, notYet, settledWithin, waitFor, Wakeup, type WaitClock } from './wait.ts';
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

/** A clock whose pauses end only when aborted: only a wakeup (or the caller's signal) moves a wait on. */
class StalledClock implements WaitClock {
  now(): number {
    return 0;
  }
  sleep(_ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }
}

const turn = () => new Promise((r) => setImmediate(r));

describe('Wakeup', () => {
  it('ends a pause as soon as something changes, so the wait looks again at once', async () => {
    const wakeup = new Wakeup();
    let changed = false;
    let looks = 0;
    const p = waitFor('the change', () => (++looks, changed ? met('seen') : notYet('unchanged')), { timeoutMs: 60_000, intervalMs: 30_000, clock: wakeup.clock(new StalledClock()) });
    await turn();
    expect(looks).toBe(1);
    changed = true;
    wakeup.notify();
    expect(await p).toBe('seen');
    expect(looks).toBe(2);
  });

  it('does not miss a change that comes while a look runs', async () => {
    const wakeup = new Wakeup();
    let looks = 0;
    const v = await waitFor('the second look', () => {
      if (++looks === 1) {
        wakeup.notify();
        return notYet('first');
      }
      return met(looks);
    }, { timeoutMs: 60_000, intervalMs: 30_000, clock: wakeup.clock(new StalledClock()) });
    expect(v).toBe(2);
  });

  it('wakes every wait on it, and still stops with the signal\'s reason', async () => {
    const wakeup = new Wakeup();
    let state = 0;
    const a = waitFor('one', () => (state >= 1 ? met('a') : notYet('no')), { timeoutMs: 60_000, intervalMs: 30_000, clock: wakeup.clock(new StalledClock()) });
    const stop = new AbortController();
    const b = waitFor('two', () => (state >= 2 ? met('b') : notYet('no')), { timeoutMs: 60_000, intervalMs: 30_000, clock: wakeup.clock(new StalledClock()), signal: stop.signal });
    await turn();
    state = 1;
    wakeup.notify();
    expect(await a).toBe('a');
    stop.abort(new Error('interrupted'));
    await expect(b).rejects.toThrow('interrupted');
  });

  it('keeps the base clock\'s deadline: on a fake clock an unchanged condition times out without waiting', async () => {
    const clock = new FakeClock();
    const e = await waitFor('a change', () => notYet('unchanged'), { timeoutMs: 1_000, intervalMs: 500, clock: new Wakeup().clock(clock) }).catch((x) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect(clock.sleeps).toEqual([500, 500]);
  });
});

describe('settledWithin', () => {
  it('gives what the promise settles with, its value or its error', async () => {
    expect(await settledWithin('an answer', Promise.resolve(7), { timeoutMs: 1_000, clock: new StalledClock() })).toBe(7);
    await expect(settledWithin('an answer', Promise.reject(new Error('refused')), { timeoutMs: 1_000, clock: new StalledClock() })).rejects.toThrow('refused');
    let answer!: (v: string) => void;
    const later = settledWithin('an answer', new Promise<string>((r) => (answer = r)), { timeoutMs: 1_000, clock: new StalledClock() });
    await turn();
    answer('late');
    expect(await later).toBe('late');
  });

  it('times out with a WaitTimeoutError naming what it waited for, on the injected clock', async () => {
    const clock = new FakeClock();
    const e = await settledWithin('the diagnosis', new Promise<never>(() => {}), { timeoutMs: 15_000, clock, hint: 'the API server is slow' }).catch((x: WaitTimeoutError) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect(e.message).toBe('timed out after 15000 ms waiting for the diagnosis (2 looks); last seen: no answer');
    expect(e.hint).toBe('the API server is slow');
    expect(clock.now()).toBe(15_000);
  });
});
