// `statebench plan --render DIR`: the files written are the manifests a run applies, valid YAML that
// validates against the Kubernetes schemas, with the password left out.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { parse } from 'yaml';
import { renderPlanTo, PASSWORD_PLACEHOLDER } from './render.ts';
import { planWithKubernetes } from '../testing/plan.ts';
import { validateObject } from './validate.ts';
import { KIND_API_VERSION } from './kind-config.ts';
import type { K8sObject } from './manifests.ts';

const RUN = '20261127-143022-ab12';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'statebench-render-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const KUBERNETES_TARGETS = [
  { platform: 'kind' as const, storage: { kind: 'local-pv' as const, size: '2GiB' } },
  { name: 'eval/gp3', platform: 'kubernetes' as const, storage: { kind: 'remote' as const, storageClass: 'gp3', size: '2GiB' }, context: 'eval' },
];
const plan = () => planWithKubernetes({ name: 'ha', targets: KUBERNETES_TARGETS, engine: { kind: 'patroni', members: 3 }, workloads: [{ kind: 'oltp-tpcb' }] });
const mixedPlan = () => planWithKubernetes({ name: 'mixed', targets: [{ platform: 'baremetal' }, ...KUBERNETES_TARGETS], workloads: [{ kind: 'oltp-tpcb' }] });

test('only Kubernetes targets are rendered', async () => {
  const files = await renderPlanTo(mixedPlan(), RUN, dir);
  expect([...new Set(files.map((f) => basename(dirname(f))))].sort()).toEqual(['eval_gp3', 'kind_local-pv']);
});

test('every Kubernetes target gets its manifests, each a valid object', async () => {
  const files = await renderPlanTo(plan(), RUN, dir);
  const byTarget = new Map<string, string[]>();
  for (const f of files) byTarget.set(basename(dirname(f)), [...(byTarget.get(basename(dirname(f))) ?? []), basename(f)]);
  expect([...byTarget.keys()].sort()).toEqual(['eval_gp3', 'kind_local-pv']);

  expect(byTarget.get('kind_local-pv')).toContain('kind-config.yaml');
  expect(byTarget.get('eval_gp3')).not.toContain('kind-config.yaml');

  for (const f of files) {
    const doc = parse(readFileSync(f, 'utf8'), { version: '1.1' });
    if (basename(f) === 'kind-config.yaml') {
      expect(doc.apiVersion).toBe(KIND_API_VERSION);
      continue;
    }
    expect(() => validateObject(doc as K8sObject), f).not.toThrow();
  }
  const kinds = files.filter((f) => f.includes('kind_local-pv')).map((f) => parse(readFileSync(f, 'utf8')).kind);
  for (const k of ['Namespace', 'StorageClass', 'PersistentVolume', 'ConfigMap', 'Secret', 'ServiceAccount', 'Role', 'RoleBinding', 'Service', 'PodDisruptionBudget', 'StatefulSet', 'PersistentVolumeClaim', 'Job']) {
    expect(kinds, k).toContain(k);
  }
});

test('the Secret holds a placeholder, never a real password', async () => {
  const files = await renderPlanTo(plan(), RUN, dir);
  const secrets = files.filter((f) => f.includes('-secret-'));
  expect(secrets).toHaveLength(2);
  for (const f of secrets) expect(parse(readFileSync(f, 'utf8')).stringData).toEqual({ password: PASSWORD_PLACEHOLDER, 'replication-password': PASSWORD_PLACEHOLDER });
});

test('the kind config mounts the run directory the platform will use', async () => {
  const files = await renderPlanTo(plan(), RUN, dir);
  const kind = parse(readFileSync(files.find((f) => f.endsWith('kind-config.yaml'))!, 'utf8'));
  const mounts = kind.nodes.filter((n: { role: string }) => n.role === 'worker').map((n: { extraMounts: { hostPath: string }[] }) => n.extraMounts[0].hostPath);
  // Patroni×3: a worker per member and a spare.
  expect(mounts).toHaveLength(4);
  for (const [i, m] of mounts.entries()) expect(m).toMatch(new RegExp(`/runs/${RUN}/kind_local-pv/kind/disk-${i + 1}$`));
});

test('a plan without Kubernetes targets renders nothing', async () => {
  const p = planWithKubernetes({ name: 'bm', targets: [{ platform: 'baremetal' }], workloads: [{ kind: 'oltp-tpcb' }] });
  expect(await renderPlanTo(p, RUN, dir)).toEqual([]);
});
