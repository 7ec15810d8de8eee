// Profiles the runtime cannot carry out are refused by the planner: `plan` refuses them and `run` exits 2 with
// `line N: path: message`, and nothing is started — no results directory, no workspace, and none of
// the tools a run would call (docker, kind, kubectl, nbdkit, patroni, etcd, haproxy, fio, postgres)
// is ever invoked: stand-ins on PATH record any call.
import { describe, it, expect, beforeAll } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from './cli.ts';
import { parseProfile } from '../harness/model/load.ts';
import { ProfileError } from '../harness/errors.ts';

function planProblems(source: string, file: string): string[] {
  try {
    parseProfile(source, file);
  } catch (e) {
    if (e instanceof ProfileError) return e.problems.map((p) => `line ${p.line}: ${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

const TOOLS = ['docker', 'kind', 'kubectl', 'nbdkit', 'nbdfuse', 'losetup', 'mount', 'patroni', 'etcd', 'haproxy', 'fio', 'postgres', 'initdb', 'pg_ctl'];

interface Refusal {
  what: string;
  profile: string;
  /** Every expected problem line, exactly as the CLI prints it after the indent. */
  problems: string[];
}

const OLTP = 'workloads:\n  - kind: oltp-tpcb\n';

const REFUSALS: Refusal[] = [
  {
    what: 'storage-error on docker with remote storage (the container volume is started without the error rate)',
    profile: `name: r\ntargets:\n  - platform: docker\n    storage: { kind: remote }\n${OLTP}faults:\n  - { at: 1s, type: storage-error }\n`,
    problems: ['line 8: faults.0.type: fault "storage-error" is not supported for postgres on docker (targets[0]); supported: node-crash, node-hang, graceful-restart, storage-stall'],
  },
  {
    what: 'storage-error on kind with remote storage',
    profile: `name: r\ntargets:\n  - platform: kind\n    storage: { kind: remote }\n${OLTP}faults:\n  - { at: 1s, type: storage-error }\n`,
    problems: ['line 8: faults.0.type: fault "storage-error" is not supported for postgres on kind (targets[0]); supported: node-crash, node-hang, kubelet-stop, pod-delete, pod-force-delete, storage-stall'],
  },
  {
    what: 'storage-stall on a named remote StorageClass of an existing cluster',
    profile: `name: r\ntargets:\n  - platform: kubernetes\n    storage: { kind: remote, storageClass: gp3 }\n${OLTP}faults:\n  - { at: 1s, type: storage-stall }\n`,
    problems: [
      'line 8: faults.0.type: fault "storage-stall" is not supported for postgres on kubernetes (targets[0]); supported: node-hang, kubelet-stop, pod-delete, pod-force-delete',
    ],
  },
  {
    what: 'storage-stall on a named remote StorageClass on kind',
    profile: `name: r\ntargets:\n  - platform: kind\n    storage: { kind: remote, storageClass: standard }\n${OLTP}faults:\n  - { at: 1s, type: storage-stall }\n`,
    problems: [
      'line 8: faults.0.type: storage-stall needs storage that can inject it (remote storage served by statebench, without storageClass); targets[0] "kind/remote(standard)" uses remote storage from StorageClass standard, whose volumes statebench cannot stall or fail',
    ],
  },
  {
    what: 'two storage-error faults with different error rates on one target',
    profile: `name: r\ntargets:\n  - platform: baremetal\n    storage: { kind: remote }\nworkloads:\n  - kind: oltp-tpcb\n    duration: 60s\nfaults:\n  - { at: 1s, type: storage-error, errorRate: 0.1 }\n  - { at: 30s, type: storage-error, errorRate: 0.5 }\n`,
    problems: ['line 10: faults.1.errorRate: storage-error faults on one target share one errorRate (the remote volume fixes it when it starts); faults[0] uses 0.1, this one 0.5'],
  },
  {
    what: 'Patroni direct access on kind (clients always go through the leader Service there)',
    profile: `name: r\ntargets:\n  - platform: kind\n    storage: { kind: local-pv }\n    patroni: { access: direct }\nengine: { kind: patroni, members: 3 }\n${OLTP}`,
    problems: ['line 5: targets.0.patroni.access: access "direct" is not available on kind (targets[0]): clients reach the leader through the member Service, which follows Patroni\'s role label like HAProxy; use haproxy'],
  },
  {
    what: 'Patroni direct access on an existing cluster, set for the engine',
    profile: `name: r\ntargets:\n  - platform: kubernetes\n    storage: { kind: local-pv }\nengine:\n  kind: patroni\n  members: 3\n  patroni: { access: direct }\n${OLTP}`,
    problems: ['line 8: engine.patroni.access: access "direct" is not available on kubernetes (targets[0]): clients reach the leader through the member Service, which follows Patroni\'s role label like HAProxy; use haproxy'],
  },
  {
    what: 'remote storage on an existing cluster without a StorageClass',
    profile: `name: r\ntargets:\n  - platform: kubernetes\n    storage: { kind: remote }\n${OLTP}`,
    problems: ['line 4: targets.0.storage.storageClass: remote storage on an existing cluster needs storage.storageClass: name the StorageClass that provides network volumes (`kubectl get storageclass`)'],
  },
  {
    what: 'a StorageClass on bare metal',
    profile: `name: r\ntargets:\n  - platform: baremetal\n    storage: { kind: remote, storageClass: gp3 }\n${OLTP}`,
    problems: ['line 4: targets.0.storage.storageClass: a StorageClass is a Kubernetes object; baremetal serves remote volumes itself: remove storageClass'],
  },
  {
    what: 'statefulset.ordered-startup on a StatefulSet that starts its members in parallel (the default)',
    profile: `name: r\ntargets:\n  - platform: kind\n    storage: { kind: local-pv }\n  - platform: kubernetes\n    storage: { kind: local-pv }\n    podManagement: parallel\n  - platform: kubernetes\n    name: ordered\n    storage: { kind: local-pv }\n    podManagement: ordered\nengine: { kind: patroni, members: 3 }\n${OLTP}checks:\n  - check: statefulset.ordered-startup\n`,
    problems: [
      'line 16: checks.0.check: statefulset.ordered-startup needs ordered members, and targets[0] "kind/local-pv" starts them in parallel (podManagement: parallel, the default); set targets[0].podManagement: ordered, or remove the check',
      'line 16: checks.0.check: statefulset.ordered-startup needs ordered members, and targets[1] "kubernetes/local-pv" starts them in parallel (podManagement: parallel, the default); set targets[1].podManagement: ordered, or remove the check',
    ],
  },
  {
    what: 'statefulset.ordered-startup on a target without a StatefulSet',
    profile: `name: r\ntargets:\n  - platform: baremetal\n${OLTP}checks:\n  - check: statefulset.ordered-startup\n`,
    problems: ['line 7: checks.0.check: statefulset.ordered-startup reads how a StatefulSet started its members, and targets[0] "baremetal/local" runs on baremetal, which has none; aim the check at other targets (targets: [...]) or remove it'],
  },
  {
    what: 'podManagement outside Kubernetes',
    profile: `name: r\ntargets:\n  - platform: docker\n    podManagement: ordered\n${OLTP}`,
    problems: ['line 4: targets.0.podManagement: podManagement is how a Kubernetes StatefulSet starts its members; docker has none: remove it'],
  },
];

describe('the planner refuses what the runtime cannot do', () => {
  let fakeBin: string;
  let calls: string;

  beforeAll(() => {
    const dir = tempDir();
    fakeBin = join(dir, 'bin');
    calls = join(dir, 'calls.log');
    mkdirSync(fakeBin);
    for (const t of TOOLS) {
      writeFileSync(join(fakeBin, t), `#!/bin/sh\necho "${t} $*" >> '${calls}'\nexit 1\n`);
      chmodSync(join(fakeBin, t), 0o755);
    }
  });

  it.each(REFUSALS)('$what', async ({ profile, problems }) => {
    const dir = tempDir();
    const home = tempDir();
    const file = join(dir, 'refused.yaml');
    writeFileSync(file, profile);
    const out = join(dir, 'out');
    // `plan` in-process (the same loader the CLI calls), `run` as a user would start it.
    expect(planProblems(profile, file)).toEqual(problems);
    const r = await cli(['run', file, '--out', out], { STATEBENCH_HOME: home, PATH: `${fakeBin}:${process.env.PATH}` });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${problems.length} problem${problems.length > 1 ? 's' : ''}, nothing was started`);
    const printed = r.stderr.split('\n').map((l) => l.trim()).filter((l) => /^line \d+: /.test(l));
    expect(printed).toEqual(problems);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(home)).toEqual([]);
    expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '').toBe('');
  });
});
