// What a target's run measures beside its workloads — the I/O probe, the safety writer and bank, an
// HA engine's failover timeline, Kubernetes' own record of each fault, the server's statistics — is
// one small plugin: started, stopped, then collected into the target's findings. The run drives every
// measurement alike; what it needs to know of one is when to start it.
export interface Measurement<F extends object = object> {
  /** For progress lines and teardown errors. */
  readonly name: string;
  /** Starts measuring. A one-shot measurement (the I/O probe) measures here and resolves when done. */
  start(): Promise<void>;
  /** Stops measuring; idempotent and safe on every exit path, including before start. */
  stop(): Promise<void>;
  /**
   * Adds what was measured to the target's findings, after stop. `F` is the slice of the findings
   * this measurement writes (and reads: the HA observer reads the safety ledger's file).
   */
  collect(findings: F): Promise<void>;
}
