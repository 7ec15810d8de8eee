// The I/O probe as one of a target's measurements: it measures the storage before the database
// exists, so its start does the whole job and collect hands over the figures.
import type { Measurement } from '../measure/measurement.ts';
import type { IoProbeSpec } from '../model/profile.ts';
import type { IoResult } from './types.ts';

export interface IoFindings {
  io?: IoResult;
}

export class IoProbe implements Measurement<IoFindings> {
  readonly name = 'io-probe';
  private result?: IoResult;

  constructor(
    private readonly spec: IoProbeSpec,
    /** Runs the probe where the data will live (the platform knows where that is). */
    private readonly probe: () => Promise<IoResult>,
    private readonly o: { event(type: string, data?: object): void; status(phase: string, detail?: string): void },
  ) {}

  async start(): Promise<void> {
    this.o.status('io-probe', `${this.spec.tool}, ${Math.round(this.spec.runtime / 1000)}s`);
    this.result = await this.probe();
    this.o.event('io-probe', { ...this.result });
  }

  async stop(): Promise<void> {}

  async collect(findings: IoFindings): Promise<void> {
    if (this.result) findings.io = this.result;
  }
}
