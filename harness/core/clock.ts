// One monotonic clock per run: every event, sample, ledger entry and fault carries milliseconds since
// the run started, so timelines from different sources line up. Wall-clock time is only a label.

export interface Clock {
  /** Milliseconds since the run started, monotonic, sub-millisecond resolution. */
  now(): number;
  /** Wall-clock ISO time for labels. */
  wall(): string;
}

export class RunClock implements Clock {
  private readonly t0 = performance.now();
  now(): number {
    return performance.now() - this.t0;
  }
  wall(): string {
    return new Date().toISOString();
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
