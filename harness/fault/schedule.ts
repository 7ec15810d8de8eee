// Runs a target's fault cycles against the measured phase: each cycle at its offset, held for its
// duration, recovered, and timed until the engine is healthy again. Events go to events.jsonl on
// the run clock, so they line up with samples and the safety ledger.
import type { FaultCycle } from '../model/plan.ts';
import type { DeployedEngine, EngineNode } from '../engine/types.ts';
import type { Volume } from '../storage/types.ts';
import type { Clock } from '../core/clock.ts';
import { sleep } from '../core/clock.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { FaultInjection, type FaultMode } from './fault.ts';
import type { FaultSubject } from './modes.ts';
import { resolveFaultMode } from './catalog.ts';
import type { FaultTracker } from './ha-modes.ts';

export interface FaultRecord {
  type: string;
  target: string;
  node?: string;
  cycle: number;
  injectedAtMs: number;
  /** When recovery started (end of the hold). */
  recoverAtMs: number | null;
  /** When the engine accepted writes again. */
  healthyAtMs: number | null;
  state: string;
  error?: string;
}

export interface ScheduleContext {
  engine: DeployedEngine;
  /** The platform's own fault modes (see FAULT_BUILDERS in catalog.ts for when they are asked). */
  platformFaultMode?: (cycle: FaultCycle, subject: FaultSubject) => FaultMode | undefined;
  /** An HA engine's failover timeline, told when each fault is injected and undone. */
  tracker?: FaultTracker;
  /** The target's volumes, each named after the engine node whose data it holds. */
  volumes: Volume[];
  clock: Clock;
  signal: AbortSignal;
  event(type: string, data?: object): void;
  status(phase: string, detail?: string): void;
}

async function pickNode(engine: DeployedEngine, target: string): Promise<EngineNode> {
  if (target === 'primary') return engine.primary();
  if (target === 'replica') {
    const primary = await engine.primary();
    const replicas = engine.nodes.filter((n) => n.name !== primary.name);
    if (!replicas.length) throw new StatebenchError('no replica to fault: every member is the primary or gone', EXIT.runFailed);
    return replicas[Math.floor(Math.random() * replicas.length)];
  }
  if (target === 'any') return engine.nodes[Math.floor(Math.random() * engine.nodes.length)];
  const node = engine.nodes.find((n) => n.name === target);
  if (!node) throw new StatebenchError(`no node ${target}; the engine has ${engine.nodes.map((n) => n.name).join(', ')}`, EXIT.runFailed);
  return node;
}

export class FaultSchedule {
  readonly records: FaultRecord[] = [];
  private active?: FaultInjection;
  private running?: Promise<void>;
  private readonly stopper = new AbortController();

  constructor(
    private readonly cycles: FaultCycle[],
    private readonly ctx: ScheduleContext,
  ) {}

  /** Starts the schedule; offsets count from `originMs` (the measured phase's start). */
  start(originMs: number): void {
    if (this.running || !this.cycles.length) return;
    const signal = AbortSignal.any([this.ctx.signal, this.stopper.signal]);
    this.running = (async () => {
      for (const cycle of this.cycles) {
        const wait = originMs + cycle.atMs - this.ctx.clock.now();
        try {
          if (wait > 0) await sleep(wait, signal);
        } catch {
          return;
        }
        await this.runCycle(cycle, signal);
        if (signal.aborted) return;
      }
    })();
  }

  private async runCycle(cycle: FaultCycle, signal: AbortSignal): Promise<void> {
    const { clock, event } = this.ctx;
    const record: FaultRecord = { type: cycle.type, target: cycle.target, cycle: cycle.cycle, injectedAtMs: clock.now(), recoverAtMs: null, healthyAtMs: null, state: 'ready' };
    this.records.push(record);
    try {
      const node = await pickNode(this.ctx.engine, cycle.target);
      record.node = node.name;
      const volume = this.ctx.volumes.find((v) => v.node === node.name);
      const subject: FaultSubject = { engine: this.ctx.engine, node, volume };
      const fault = new FaultInjection(resolveFaultMode(cycle, subject, { platform: this.ctx.platformFaultMode, tracker: this.ctx.tracker }));
      this.active = fault;
      this.ctx.status('fault', `${cycle.type} on ${node.name} (cycle ${cycle.cycle + 1})`);
      record.injectedAtMs = clock.now();
      event('fault-inject', { fault: cycle.type, node: node.name, cycle: cycle.cycle });
      await fault.inject();
      event('fault-active', { fault: cycle.type, node: node.name, cycle: cycle.cycle });
      // The hold is not cut short by an interrupt's abort: cleanup() recovers right after.
      await sleep(cycle.holdMs, signal).catch(() => {});
      if (signal.aborted) return;
      record.recoverAtMs = clock.now();
      event('fault-recover', { fault: cycle.type, node: node.name, cycle: cycle.cycle });
      await fault.recover();
      await fault.waitForRecovery(cycle.recoveryTimeoutMs);
      record.healthyAtMs = clock.now();
      event('fault-recovered', { fault: cycle.type, node: node.name, cycle: cycle.cycle, timeToHealthyMs: Math.round(record.healthyAtMs - record.injectedAtMs) });
    } catch (e) {
      record.error = (e as Error).message;
      event('fault-error', { fault: cycle.type, cycle: cycle.cycle, message: record.error });
      // A half-injected fault (inject or recover threw) is undone now, not left for teardown.
      if (this.active?.state === 'invalid') await this.active.cleanup().catch((err) => event('fault-error', { fault: cycle.type, cycle: cycle.cycle, message: `cleanup: ${(err as Error).message}` }));
    } finally {
      record.state = this.active?.state ?? 'invalid';
      if (record.state !== 'active' && record.state !== 'recovering') this.active = undefined;
    }
  }

  /** Waits for the schedule to finish (all cycles run, or stopped). */
  async done(): Promise<void> {
    await this.running;
  }

  /** Cancels pending cycles and recovers an active fault. Safe to call on any exit path. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.running?.catch(() => {});
    const active = this.active;
    this.active = undefined;
    if (active) {
      await active.cleanup();
      const rec = this.records.at(-1);
      if (rec) rec.state = active.state;
      this.ctx.event('fault-cleanup', { fault: active.mode.type, state: active.state });
    }
  }
}
