// The kind cluster config: shape, run-specific values, and only fields kind's v1alpha4 API has
// (kind rejects unknown fields, and a typo would otherwise surface only where kind is installed).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { CONTAINERD_CERTS_DIR, KIND_API_VERSION, RESTRICT_OOM_SCORE_ADJ_PATCH, kindConfigYaml, lacksCapSysResource, registryHostsToml, renderKindConfig, type KindConfigOptions } from './kind-config.ts';
import { KIND_CLIENT_NODE_PORT, NODE_DISK_PATH, RUN_LABEL, kindClusterName, kindWorkerNames } from '../names.ts';

/** Field names of kind's v1alpha4 Cluster, Node, Mount and PortMapping (pkg/apis/config/v1alpha4/types.go). */
const KIND_FIELDS = {
  cluster: ['kind', 'apiVersion', 'name', 'nodes', 'networking', 'featureGates', 'runtimeConfig', 'kubeadmConfigPatches', 'kubeadmConfigPatchesJSON6902', 'containerdConfigPatches', 'containerdConfigPatchesJSON6902'],
  node: ['role', 'image', 'labels', 'extraMounts', 'extraPortMappings', 'gpus', 'kubeadmConfigPatches', 'kubeadmConfigPatchesJSON6902'],
  mount: ['containerPath', 'hostPath', 'readOnly', 'selinuxRelabel', 'propagation'],
  portMapping: ['containerPort', 'hostPort', 'listenAddress', 'protocol'],
};

function unknownKindFields(config: Record<string, unknown>): string[] {
  const bad: string[] = [];
  const check = (obj: object, allowed: string[], where: string) => {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) bad.push(`${where}.${k}`);
  };
  check(config, KIND_FIELDS.cluster, 'cluster');
  for (const [i, n] of ((config.nodes as Record<string, unknown>[]) ?? []).entries()) {
    check(n, KIND_FIELDS.node, `nodes[${i}]`);
    for (const m of (n.extraMounts as object[]) ?? []) check(m, KIND_FIELDS.mount, `nodes[${i}].extraMounts`);
    for (const p of (n.extraPortMappings as object[]) ?? []) check(p, KIND_FIELDS.portMapping, `nodes[${i}].extraPortMappings`);
  }
  return bad;
}

const RUN = '20261127-143022-ab12';
const options = (over: Partial<KindConfigOptions> = {}): KindConfigOptions => ({
  clusterName: kindClusterName(RUN, 'kind/local-pv'),
  runId: RUN,
  targetName: 'kind/local-pv',
  workerDisks: ['/runs/x/kind/disk-1', '/runs/x/kind/disk-2', '/runs/x/kind/disk-3'],
  clientHostPort: 41234,
  ...over,
});

describe('renderKindConfig', () => {
  test('a control plane and one worker per disk, each worker mounting its disk at the local-PV path', () => {
    const c = renderKindConfig(options());
    expect(c.apiVersion).toBe(KIND_API_VERSION);
    expect(c.kind).toBe('Cluster');
    expect(c.name).toBe(`statebench-${RUN}-${c.name.slice(-4)}`);
    expect(c.nodes.map((n) => n.role)).toEqual(['control-plane', 'worker', 'worker', 'worker']);
    c.nodes.slice(1).forEach((w, i) => expect(w.extraMounts).toEqual([{ hostPath: `/runs/x/kind/disk-${i + 1}`, containerPath: NODE_DISK_PATH }]));
    for (const n of c.nodes) expect(n.labels?.[RUN_LABEL]).toBe(RUN);
    expect(c.nodes[0].extraPortMappings).toEqual([{ containerPort: KIND_CLIENT_NODE_PORT, hostPort: 41234, listenAddress: '127.0.0.1', protocol: 'TCP' }]);
    expect(c.containerdConfigPatches).toBeUndefined();
    expect(unknownKindFields(c as unknown as Record<string, unknown>)).toEqual([]);
  });

  test('the worker names kind will give are the ones Local PVs are pinned to', () => {
    const c = renderKindConfig(options());
    expect(kindWorkerNames(c.name, 3)).toEqual([`${c.name}-worker`, `${c.name}-worker2`, `${c.name}-worker3`]);
    c.nodes.slice(1).forEach((w, i) => expect(w.labels?.['statebench.disk']).toBe(kindWorkerNames(c.name, 3)[i]));
  });

  test('a registry mirror patches containerd to read hosts.toml files mounted into every node', () => {
    const c = renderKindConfig(options({ registryMirror: { registry: 'localhost:5001', endpoint: 'http://kind-registry:5000', hostsDir: '/runs/x/certs.d' } }));
    expect(c.containerdConfigPatches).toHaveLength(1);
    expect(c.containerdConfigPatches![0]).toContain(`config_path = "${CONTAINERD_CERTS_DIR}"`);
    for (const n of c.nodes) expect(n.extraMounts).toContainEqual({ hostPath: '/runs/x/certs.d', containerPath: CONTAINERD_CERTS_DIR, readOnly: true });
    expect(registryHostsToml('http://kind-registry:5000')).toBe('[host."http://kind-registry:5000"]\n  capabilities = ["pull", "resolve"]\n');
    expect(() => registryHostsToml('kind-registry:5000"\n[evil]')).toThrow(/must look like http:\/\/host:port/);
    expect(unknownKindFields(c as unknown as Record<string, unknown>)).toEqual([]);
  });

  test('a host without CAP_SYS_RESOURCE gets containerd patched to restrict oom_score_adj, next to a mirror patch', () => {
    const c = renderKindConfig(options({ restrictOomScoreAdj: true }));
    expect(c.containerdConfigPatches).toEqual([RESTRICT_OOM_SCORE_ADJ_PATCH]);
    expect(RESTRICT_OOM_SCORE_ADJ_PATCH).toBe('[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n');
    const both = renderKindConfig(options({ restrictOomScoreAdj: true, registryMirror: { registry: 'localhost:5001', endpoint: 'http://kind-registry:5000', hostsDir: '/h' } }));
    expect(both.containerdConfigPatches).toHaveLength(2);
    expect(renderKindConfig(options({ restrictOomScoreAdj: false })).containerdConfigPatches).toBeUndefined();
    // Capability 24 is CAP_SYS_RESOURCE.
    expect(lacksCapSysResource('Name:\tx\nCapBnd:\t000001fffeffffff\n')).toBe(true);
    expect(lacksCapSysResource('CapBnd:\t000001ffffffffff\n')).toBe(false);
    expect(lacksCapSysResource('no such line')).toBe(false);
  });

  test('a node image, when given, is set on every node', () => {
    const c = renderKindConfig(options({ nodeImage: 'kindest/node:v1.31.0' }));
    expect(c.nodes.every((n) => n.image === 'kindest/node:v1.31.0')).toBe(true);
  });

  test('names kind would refuse are refused here', () => {
    expect(() => renderKindConfig(options({ clusterName: 'Statebench_X' }))).toThrow(/lower-case/);
    expect(() => renderKindConfig(options({ workerDisks: [] }))).toThrow(/at least one worker/);
  });

  test('YAML output parses back to the same object', () => {
    const c = renderKindConfig(options());
    expect(parse(kindConfigYaml(c))).toEqual(c);
  });
});

test('kind-config/cluster.yaml has the shape statebench renders', () => {
  const template = parse(readFileSync(new URL('../../../../kind-config/cluster.yaml', import.meta.url), 'utf8')) as Record<string, unknown> & { nodes: { role: string; extraMounts?: { containerPath: string }[]; extraPortMappings?: { containerPort: number }[] }[] };
  const rendered = renderKindConfig(options());
  expect(unknownKindFields(template)).toEqual([]);
  expect(template.apiVersion).toBe(rendered.apiVersion);
  expect(template.nodes.map((n) => n.role)).toEqual(rendered.nodes.map((n) => n.role));
  expect(template.nodes[0].extraPortMappings![0].containerPort).toBe(KIND_CLIENT_NODE_PORT);
  for (const w of template.nodes.slice(1)) expect(w.extraMounts![0].containerPath).toBe(NODE_DISK_PATH);
});
