// A clock for unit tests of waits: time moves only when something sleeps on it, so a 30-second
// timeout is tested in microseconds and every pause is on record.
import type { WaitClock } from '../core/wait.ts';

export class FakeClock implements WaitClock {
  /** Every pause asked for, in order. */
  readonly sleeps: number[] = [];

  constructor(private t = 0) {}

  now(): number {
    return this.t;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.t += ms;
  }

  /** Time passing while a look runs (a slow probe). */
  advance(ms: number): void {
    this.t += ms;
  }
}
