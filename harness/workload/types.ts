// A workload loads its data, then runs a measured phase and returns its summary. Samples stream to
// samples.jsonl while it runs.
import type { ConnInfo } from '../engine/types.ts';
import type { Clock } from '../core/clock.ts';
import type { WorkloadSummary } from '../model/summary.ts';

export interface WorkloadRuntime {
  clock: Clock;
  signal: AbortSignal;
  /** One line per second of the measured phase. */
  sample(record: object): void;
  event(type: string, data?: object): void;
  status(phase: string, detail?: string): void;
  /** Called once, when the measured phase starts (after warmup); faults are scheduled from here. */
  onMeasureStart?(atMs: number): void;
}

export interface Workload {
  readonly name: string;
  readonly kind: string;
  load(conn: ConnInfo, rt: WorkloadRuntime): Promise<void>;
  /** `conn` is asked again on every reconnect, so an HA access path can move. */
  run(conn: () => ConnInfo, rt: WorkloadRuntime): Promise<WorkloadSummary>;
}
