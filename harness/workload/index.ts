import type { PlannedWorkload } from '../model/plan.ts';
import { OltpTpcb } from './oltp-tpcb.ts';
import { K6Workload } from './k6/workload.ts';
import { BulkLoad } from './bulk-load.ts';
import { Analytic } from './analytic.ts';
import type { Workload } from './types.ts';

export function workloadFor(w: PlannedWorkload, artifactsDir?: string): Workload {
  switch (w.spec.kind) {
    case 'oltp-tpcb':
      return new OltpTpcb(w.name, w.spec);
    case 'k6':
      return new K6Workload(w.name, w.spec, { artifactsDir });
    case 'bulk-load':
      return new BulkLoad(w.name, w.spec);
    case 'analytic':
      return new Analytic(w.name, w.spec);
  }
}
