// The safety side of a target's run: the ledger writer and the bank run beside the workloads, and
// after recovery both are verified. The ledger's attempts also give each fault cycle's timeline.
import { join } from 'node:path';
import type { Measurement } from '../measure/measurement.ts';
import type { ConnInfo } from '../engine/types.ts';
import type { SafetySpec } from '../model/profile.ts';
import type { Clock } from '../core/clock.ts';
import type { SafetySummary } from '../model/summary.ts';
import { LedgerWriter, forEachLedgerAttempt, type LedgerAttempt } from './ledger.ts';
import type { TimedAttempt } from './recovery.ts';
import { BankWorkload } from './bank.ts';
import { verifyLedger } from './verifier.ts';

export interface SafetyFindings {
  safety?: SafetySummary;
  /** The ledger, when the writer ran: the HA observer's split-brain analysis reads it. */
  ledgerFile?: string;
  /** Every attempt the writer recorded, read back from the ledger when asked: each fault cycle's recovery comes from them. */
  ledgerAttempts?(): Promise<TimedAttempt[]>;
  /** Ledger lines that could not be read back. */
  malformedLines?: number;
}

export interface SafetyMonitorHooks {
  /** Sees each ledger attempt as it is recorded (an HA engine's failover timeline). */
  onAttempt?(a: LedgerAttempt): void;
  /** Resolves once the engine serves again: verification reads what survived. */
  awaitServing?(): Promise<void>;
  event?(type: string, data?: object): void;
  status?(phase: string, detail?: string): void;
}

export class SafetyMonitor implements Measurement<SafetyFindings> {
  readonly name = 'safety';
  private writer?: LedgerWriter;
  private bank?: BankWorkload;
  readonly ledgerFile: string;
  malformedLines = 0;

  constructor(
    private readonly spec: SafetySpec,
    private readonly conn: () => ConnInfo,
    private readonly clock: Clock,
    artifactsDir: string,
    private readonly hooks: SafetyMonitorHooks = {},
  ) {
    this.ledgerFile = join(artifactsDir, 'ledger.jsonl');
  }

  get enabled(): boolean {
    return this.spec.writer.enabled || this.spec.bank.enabled;
  }

  async start(): Promise<void> {
    const { writer, bank } = this.spec;
    if (writer.enabled) {
      this.writer = new LedgerWriter({
        conn: this.conn,
        clock: this.clock,
        file: this.ledgerFile,
        clients: writer.clients,
        timeoutMs: writer.timeout,
        ratePerClient: writer.rate || undefined,
        onAttempt: this.hooks.onAttempt,
      });
      await this.writer.prepare();
    }
    if (bank.enabled) {
      this.bank = new BankWorkload({ conn: this.conn, clock: this.clock, accounts: bank.accounts, clients: bank.clients, initialBalance: bank.initialBalance });
      await this.bank.prepare();
    }
    this.writer?.start();
    this.bank?.start();
  }

  /** Stops writing; idempotent. */
  async stop(): Promise<void> {
    const w = this.writer;
    const b = this.bank;
    await Promise.all([w?.stop(), b?.stop()]);
  }

  /** The ledger file, when the writer ran. */
  get ledger(): string | undefined {
    return this.writer ? this.ledgerFile : undefined;
  }

  /** The timing and outcome of every ledger attempt (no ids or payload checksums), for recovery timelines. */
  async attempts(): Promise<TimedAttempt[]> {
    const out: TimedAttempt[] = [];
    if (this.writer) await forEachLedgerAttempt(this.ledgerFile, (a) => out.push({ startMs: a.startMs, endMs: a.endMs, outcome: a.outcome }));
    return out;
  }

  /** Once the engine serves again: reads the ledger and the bank back. */
  async collect(findings: SafetyFindings): Promise<void> {
    findings.ledgerFile = this.ledger;
    findings.ledgerAttempts = () => this.attempts();
    this.hooks.status?.('verify', 'reading back the ledger');
    await this.hooks.awaitServing?.();
    findings.safety = await this.verify();
    findings.malformedLines = this.malformedLines;
    this.hooks.event?.('safety-verified', { ...findings.safety, lostIds: undefined });
  }

  /** Reads everything back; call once the engine is healthy. */
  async verify(): Promise<SafetySummary> {
    const conn = this.conn();
    const counts: SafetySummary = {
      attempted: 0, acknowledged: 0, failed: 0, indeterminate: 0, indeterminatePresent: 0, indeterminateAbsent: 0,
      lost: 0, phantom: 0, duplicated: 0, corrupted: 0,
    };
    if (this.writer) {
      const v = await verifyLedger(conn, this.ledgerFile);
      this.malformedLines = v.malformedLines;
      Object.assign(counts, {
        attempted: v.attempted, acknowledged: v.acknowledged, failed: v.failed, indeterminate: v.indeterminate,
        indeterminatePresent: v.indeterminatePresent, indeterminateAbsent: v.indeterminateAbsent,
        lost: v.lost, phantom: v.phantom, duplicated: v.duplicated, corrupted: v.corrupted, lostIds: v.lostIds,
      });
    }
    if (this.bank) counts.bank = await this.bank.finalCheck(conn);
    return counts;
  }
}
