// Fault types, each mapped onto the verbs a platform gives a node (NodeControl) or a volume
// (StorageFaults). The same fault type works on every platform that implements those verbs.
import type { DeployedEngine, EngineNode } from '../engine/types.ts';
import type { Volume } from '../storage/types.ts';
import type { FaultCycle } from '../model/plan.ts';
import type { FaultMode } from './fault.ts';
import { StatebenchError } from '../errors.ts';
import { met, notYet, waitFor } from '../core/wait.ts';

export interface FaultSubject {
  engine: DeployedEngine;
  node: EngineNode;
  /** The node's volume, for storage faults. */
  volume?: Volume;
}

export function faultMode(cycle: FaultCycle, s: FaultSubject): FaultMode {
  const { node, engine } = s;
  const healthy = (timeoutMs: number) => engine.awaitHealthy(timeoutMs);
  switch (cycle.type) {
    case 'node-crash':
      return {
        type: cycle.type,
        // SIGKILL of every process of the node at once; kill() returns when all are gone.
        inject: () => node.control.kill(),
        recover: () => node.control.start(),
        waitForRecovery: healthy,
      };
    case 'node-hang':
      return {
        type: cycle.type,
        inject: () => node.control.pause(),
        recover: () => node.control.resume(),
        waitForRecovery: healthy,
      };
    case 'graceful-restart':
      return {
        type: cycle.type,
        inject: () => node.control.stop(),
        recover: () => node.control.start(),
        waitForRecovery: healthy,
      };
    case 'storage-stall':
    case 'storage-error': {
      const faults = s.volume?.faults;
      if (!faults) throw new StatebenchError(`${cycle.type}: the volume of ${node.name} cannot inject storage faults`);
      let undo: (() => Promise<void>) | undefined;
      return {
        type: cycle.type,
        inject: async () => {
          undo = cycle.type === 'storage-stall' ? await faults.stall() : await faults.errors(cycle.errorRate);
        },
        recover: async () => {
          const u = undo;
          undo = undefined;
          await u?.();
        },
        waitForRecovery: (timeoutMs) => superviseUntilHealthy(s, timeoutMs),
      };
    }
    default:
      throw new StatebenchError(`fault ${cycle.type} is not implemented for engine ${engine.kind}`);
  }
}

/**
 * PostgreSQL may PANIC on an I/O error, possibly seconds after the errors stopped, and then stay
 * down; a supervisor (systemd, a kubelet) would start it again. So does this, until the engine is
 * healthy or the timeout passes. A start that fails (e.g. the filesystem went read-only) is retried
 * and its error is what the cycle reports.
 */
async function superviseUntilHealthy(s: FaultSubject, timeoutMs: number): Promise<void> {
  await waitFor(
    `${s.node.name} to be healthy again (started again while down)`,
    async (left) => {
      try {
        if (!s.node.control.running) await s.node.control.start();
        await s.engine.awaitHealthy(Math.max(1, Math.min(left, 3_000)));
        return met(undefined);
      } catch (e) {
        return notYet((e as Error).message);
      }
    },
    // Each look waits up to 3 s for health itself; the pause only keeps a start that fails at once from spinning.
    { timeoutMs, intervalMs: 50, maxLooks: 1000 },
  );
}
