// The words a timed-out wait uses, for states the contract tests do not set up.
import { expect, test } from 'vitest';
import { diagnose } from './diagnose.ts';

const base = { namespace: 'ns', selector: 'app=db' };

test('ready pods are not mentioned; a running pod failing its readiness probe quotes the probe event', () => {
  const d = diagnose({
    ...base,
    pods: [
      { metadata: { name: 'pg-0' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
      { metadata: { name: 'pg-1' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }], containerStatuses: [{ name: 'db', ready: false, state: { running: {} } }] } },
    ],
    events: [
      { type: 'Warning', reason: 'Unhealthy', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', involvedObject: { kind: 'Pod', name: 'pg-1' }, lastTimestamp: '2026-11-27T14:30:05Z' },
      { type: 'Warning', reason: 'Unhealthy', message: 'older', involvedObject: { kind: 'Pod', name: 'pg-1' }, lastTimestamp: '2026-11-27T14:30:01Z' },
    ],
  });
  expect(d.lines).toEqual(['pod pg-1 Running, not ready: Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503']);
});

test('anti-affinity and resource shortages get their own advice', () => {
  const d = diagnose({
    ...base,
    pods: [
      { metadata: { name: 'pg-2' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', message: "0/3 nodes are available: 2 node(s) didn't match pod anti-affinity rules, 1 Insufficient memory." }] } },
    ],
  });
  expect(d.lines).toEqual(["pod pg-2 Pending: 0/3 nodes are available: 2 node(s) didn't match pod anti-affinity rules, 1 Insufficient memory."]);
  expect(d.hints.join(' ')).toMatch(/node of its own.*lack the CPU or memory/);
});

test('a missing Secret or ConfigMap (CreateContainerConfigError) is named with the kubelet’s message', () => {
  const d = diagnose({
    ...base,
    pods: [{ metadata: { name: 'pg-0' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }], containerStatuses: [{ name: 'db', state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "pg-credentials" not found' } } }] } }],
  });
  expect(d.lines).toEqual(['pod pg-0 container db CreateContainerConfigError: secret "pg-credentials" not found']);
});

test('a bound claim is not mentioned; an unbound one is, with its latest event', () => {
  const d = diagnose({
    ...base,
    pods: [],
    claims: [
      { metadata: { name: 'data-pg-0' }, status: { phase: 'Bound' } },
      { metadata: { name: 'fio-probe' }, status: { phase: 'Pending' } },
    ],
    events: [{ type: 'Warning', reason: 'ProvisioningFailed', message: 'storageclass.storage.k8s.io "vendor-block" not found', involvedObject: { kind: 'PersistentVolumeClaim', name: 'fio-probe' } }],
  });
  expect(d.lines).toEqual(['no pod matches app=db in namespace ns', 'pvc fio-probe Pending: storageclass.storage.k8s.io "vendor-block" not found']);
  expect(d.hints.join(' ')).toMatch(/StorageClass exists/);
});
