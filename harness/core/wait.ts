// The one way statebench waits for something: look at a condition until it holds, with a pause
// between looks, until a deadline passes. A timeout names what was awaited and the last state seen,
// so "not healthy within 30000 ms" comes with why. The clock is injected: unit tests drive the loop
// on a fake clock and never wait for real.
import { sleep } from './clock.ts';
import { WaitTimeoutError } from '../errors.ts';

export interface WaitClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The process's monotonic clock and real timers. */
export const monotonicClock: WaitClock = { now: () => performance.now(), sleep };

/** One look at the awaited condition: it holds (with what was found), or what was seen instead. */
export type Observation<T> = { met: true; value: T } | { met: false; state: string | (() => string) };

export function met<T>(value: T): Observation<T> {
  return { met: true, value };
}

/** The condition does not hold yet; `state` (computed only if the wait times out) says what was seen. */
export function notYet(state: string | (() => string)): Observation<never> {
  return { met: false, state };
}

export interface WaitOptions {
  timeoutMs: number;
  /** Pause after a look that found the condition unmet (default 100 ms), or a backoff by look number (1, 2, …). */
  intervalMs?: number | ((look: number) => number);
  /** Bound on looks, so a clock that stands still cannot loop forever (default: what the interval allows in timeoutMs, plus one). */
  maxLooks?: number;
  signal?: AbortSignal;
  clock?: WaitClock;
  /** Goes with the timeout error, e.g. which log to read. */
  hint?: string;
}

/**
 * Looks until `look` reports the condition met and returns its value. A look that throws ends the
 * wait with that error (a process that exited will not become ready); a look that should survive an
 * error catches it and returns `notYet(message)`. The last look happens at the deadline. Rejects
 * with WaitTimeoutError after `timeoutMs`, or with the signal's reason when it aborts.
 */
export async function waitFor<T>(what: string, look: (remainingMs: number) => Observation<T> | Promise<Observation<T>>, o: WaitOptions): Promise<T> {
  const clock = o.clock ?? monotonicClock;
  const interval = typeof o.intervalMs === 'function' ? o.intervalMs : () => (o.intervalMs as number | undefined) ?? 100;
  const maxLooks = o.maxLooks ?? Math.ceil(o.timeoutMs / Math.max(1, typeof o.intervalMs === 'number' ? o.intervalMs : 100)) + 1;
  const deadline = clock.now() + o.timeoutMs;
  let state: string | (() => string) = 'not looked at yet';
  let looks = 0;
  while (looks < maxLooks) {
    o.signal?.throwIfAborted();
    looks++;
    const seen = await look(Math.max(0, deadline - clock.now()));
    if (seen.met) return seen.value;
    state = seen.state;
    const left = deadline - clock.now();
    if (left <= 0) break;
    await clock.sleep(Math.min(Math.max(0, interval(looks)), left), o.signal);
  }
  throw new WaitTimeoutError(what, o.timeoutMs, typeof state === 'function' ? state() : state, looks, o.hint);
}

/**
 * Lets a wait look again as soon as what it depends on changes, instead of at the end of its pause:
 * a watch calls `notify()` on every change, and the wait runs on `clock(base)`, whose pauses end
 * early on a notification. A change during a look ends the next pause at once, so none is missed.
 * The deadline, the bound on looks and the timeout error stay waitFor's.
 */
export class Wakeup {
  /**
   * The bound on looks for a wait on a Wakeup: the paced ones, plus as many woken by changes as any
   * watch could deliver in one wait (a clock that stands still still cannot spin forever).
   */
  static maxLooks(timeoutMs: number, intervalMs: number): number {
    return Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 1 + 100_000;
  }

  private generation = 0;
  private readonly sleepers = new Set<() => void>();

  notify(): void {
    this.generation++;
    for (const wake of [...this.sleepers]) wake();
  }

  /** `base`'s time; its pauses, ended early by `notify()`. One per wait: it remembers what that wait has seen. */
  clock(base: WaitClock = monotonicClock): WaitClock {
    let seen = this.generation;
    return {
      now: () => base.now(),
      sleep: async (ms, signal) => {
        signal?.throwIfAborted();
        if (seen !== this.generation) {
          seen = this.generation;
          return;
        }
        const early = new AbortController();
        const wake = () => early.abort();
        this.sleepers.add(wake);
        try {
          await base.sleep(ms, signal ? AbortSignal.any([signal, early.signal]) : early.signal);
        } catch (e) {
          if (signal?.aborted || !early.signal.aborted) throw e;
        } finally {
          this.sleepers.delete(wake);
          seen = this.generation;
        }
      },
    };
  }
}

/**
 * What `p` settles with, or a WaitTimeoutError naming `what` once `timeoutMs` pass first (for calls
 * whose own timeout cannot be trusted: `p` is left to settle on its own).
 */
export function settledWithin<T>(what: string, p: Promise<T>, o: { timeoutMs: number; clock?: WaitClock; signal?: AbortSignal; hint?: string }): Promise<T> {
  const settled = new Wakeup();
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  p.then(
    (value) => void (outcome = { ok: true, value }),
    (error: unknown) => void (outcome = { ok: false, error }),
  ).finally(() => settled.notify());
  return waitFor(
    what,
    () => {
      if (!outcome) return notYet('no answer');
      if (!outcome.ok) throw outcome.error;
      return met(outcome.value);
    },
    { timeoutMs: o.timeoutMs, intervalMs: o.timeoutMs, clock: settled.clock(o.clock), signal: o.signal, hint: o.hint },
  );
}
