// `statebench plan --render DIR`: every Kubernetes target of a plan as the files a run would apply —
// the kind cluster config and one YAML file per manifest, schema-validated — so they can be read,
// diffed and applied by hand. Nothing is contacted; the password is a placeholder.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Plan, PlannedTarget } from '../../../model/plan.ts';
import { runsRoot } from '../../../core/workspace.ts';
import { kindConfigYaml, renderKindConfig } from './kind-config.ts';
import { remoteVolumePath, renderManifests, type K8sObject, type ManifestOptions } from './manifests.ts';
import { kindClusterName, kindWorkerNames } from '../names.ts';
import { validateAll } from './validate.ts';
import { withFaultPolicy } from '../faults/policy.ts';

export const PASSWORD_PLACEHOLDER = 'generated-at-run-time';

export function isKubernetesTarget(t: PlannedTarget): boolean {
  return t.platform === 'kind' || t.platform === 'kubernetes';
}

/**
 * Workers of a kind cluster: one per member plus a spare, at least three. The spare is where a member
 * whose node is lost can be rescheduled (Patroni members keep one per node): a network volume lets it
 * start there with its data, a Local PV keeps it Pending on its dead node.
 */
export function kindWorkerCount(t: PlannedTarget): number {
  return Math.max(3, (t.engine.kind === 'patroni' ? t.engine.members : 1) + 1);
}

/** Host directory that is the "local disk" of kind worker `i` (0-based) of a target. */
export function kindDiskDir(stateDir: string, i: number): string {
  return join(stateDir, 'kind', `disk-${i + 1}`);
}

/**
 * kind's emulated network volumes: member i's block device is mounted on the host at
 * `<stateDir>/kind/remote-<i>` and shared into every worker at remoteVolumePath(i).
 */
export function kindRemoteMounts(stateDir: string, members: number): { hostPath: string; containerPath: string }[] {
  return Array.from({ length: members }, (_, i) => ({ hostPath: join(stateDir, 'kind', `remote-${i + 1}`), containerPath: remoteVolumePath(i) }));
}

/** The directory a run keeps this target's state in (the same path the runner uses). */
function targetStateDir(t: PlannedTarget, runId: string): string {
  return join(runsRoot(), runId, t.slug);
}

function manifestOptions(t: PlannedTarget, runId: string): ManifestOptions {
  const needsNodes = t.storage.kind === 'local-pv' || (t.storage.kind === 'remote' && !t.storage.storageClass);
  let nodes: string[] | undefined;
  if (needsNodes) {
    nodes =
      t.platform === 'kind'
        ? kindWorkerNames(kindClusterName(runId, t.name), kindWorkerCount(t))
        : // An existing cluster's workers are only known once it is contacted.
          Array.from({ length: Math.max(3, t.engine.members) }, (_, i) => `node-${i + 1}.replace-with-a-worker-name`);
  }
  return { nodes, password: PASSWORD_PLACEHOLDER };
}

function fileName(index: number, o: K8sObject): string {
  return `${String(index).padStart(2, '0')}-${o.kind.toLowerCase()}-${o.metadata?.name}.yaml`;
}

function yamlOf(o: K8sObject, note: string): string {
  return `# ${note}\n${stringify(o, { lineWidth: 0, version: '1.1' })}`;
}

/** Writes one target's files under `dir/<target slug>/`; returns their paths. */
export async function renderTarget(t: PlannedTarget, runId: string, dir: string): Promise<string[]> {
  const out = join(dir, t.slug);
  await mkdir(out, { recursive: true });
  const written: string[] = [];
  const write = async (name: string, text: string) => {
    const path = join(out, name);
    await writeFile(path, text);
    written.push(path);
  };

  // Tolerations of the fault policy are part of what would be applied.
  const m = withFaultPolicy(renderManifests(t, runId, manifestOptions(t, runId)), t.faultPolicy);
  const all = [...m.base, ...m.engine, ...(m.probe ? [m.probe.claim, m.probe.job(true), m.probe.job(false)] : [])];
  validateAll(all);

  if (t.platform === 'kind') {
    const cluster = kindClusterName(runId, t.name);
    const stateDir = targetStateDir(t, runId);
    const remoteDisks = t.storage.kind === 'remote' && !t.storage.storageClass;
    const config = renderKindConfig({
      clusterName: cluster,
      runId,
      targetName: t.name,
      workerDisks: Array.from({ length: kindWorkerCount(t) }, (_, i) => kindDiskDir(stateDir, i)),
      sharedMounts: remoteDisks ? kindRemoteMounts(stateDir, t.engine.kind === 'patroni' ? t.engine.members : 1) : undefined,
      // The run picks a free loopback port; 0 lets kind pick one when this file is used by hand.
      clientHostPort: 0,
    });
    const note = remoteDisks
      ? `# Each member's volume is a network block device the run mounts on the host before the cluster is created (the hostPath of the shared mounts), reachable from every worker.\n`
      : '';
    await write('kind-config.yaml', note + kindConfigYaml(config));
  }

  let i = 0;
  for (const o of [...m.base, ...m.engine]) {
    const note =
      o.kind === 'Secret' ? `${t.name}: the run generates the password; this file holds a placeholder` : `${t.name}: applied with server-side apply, field manager statebench`;
    await write(fileName(i++, o), yamlOf(o, note));
  }
  if (m.probe) {
    await write(`${String(i++).padStart(2, '0')}-fio-claim.yaml`, yamlOf(m.probe.claim, `${t.name}: fresh claim on the target's StorageClass for the I/O probe`));
    await write(`${String(i++).padStart(2, '0')}-fio-job.yaml`, yamlOf(m.probe.job(true), `${t.name}: fio with direct I/O; the run falls back to fio-buffered when the volume refuses O_DIRECT`));
  }
  return written;
}

/** Renders every kind/kubernetes target of the plan under `dir`; other targets have nothing to render. */
export async function renderPlanTo(plan: Plan, runId: string, dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const t of plan.targets.filter(isKubernetesTarget)) files.push(...(await renderTarget(t, runId, dir)));
  return files;
}
