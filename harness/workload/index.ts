import type { PlannedWorkload } from '../spec/plan.ts';
import { OltpTpcb } from './oltp-tpcb.ts';
import type { Workload } from './types.ts';

export function workloadFor(w: PlannedWorkload): Workload {
  switch (w.spec.kind) {
    case 'oltp-tpcb':
      return new OltpTpcb(w.name, w.spec);
  }
}
