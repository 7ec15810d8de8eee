// Fault types, each mapped onto the verbs a platform gives a node (NodeControl) or a volume
// (StorageFaults). The same fault type works on every platform that implements those verbs.
import type { DeployedEngine, EngineNode } from '../engine/types.ts';
import type { Volume } from '../storage/types.ts';
import type { FaultCycle } from '../spec/plan.ts';
import type { FaultMode } from './fault.ts';
import { StatebenchError } from '../errors.ts';

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
          // PostgreSQL may PANIC on an I/O error and stay down; bring the node back as an operator would.
          if (!node.control.running) await node.control.start();
        },
        waitForRecovery: healthy,
      };
    }
    default:
      throw new StatebenchError(`fault ${cycle.type} is not implemented for engine ${engine.kind}`);
  }
}
