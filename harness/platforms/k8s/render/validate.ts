// Schema validation of rendered manifests against the Kubernetes OpenAPI schemas shipped by
// kubernetes-models, so a malformed object is caught at render time rather than by an API server.
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolume } from 'kubernetes-models/v1/PersistentVolume';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import { StatebenchError } from '../../../errors.ts';
import type { K8sObject } from './manifests.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolume': PersistentVolume,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'storage.k8s.io/v1/StorageClass': StorageClass,
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function describeObject(o: { kind?: string; metadata?: { name?: string; namespace?: string } }): string {
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind ?? '?'} ${ns}${o.metadata?.name ?? '?'}`;
}

/** Throws naming the object and every schema violation in it. */
export function validateObject(obj: K8sObject): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new StatebenchError(`${describeObject(obj)}: no schema known for ${key}`);
  const name = obj.metadata?.name ?? '';
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    throw new StatebenchError(`${describeObject(obj)}: metadata.name must be a DNS subdomain (lower-case letters, digits, - and .)`);
  }
  try {
    new Model(obj as never).validate();
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    const detail = errors?.length ? errors.map((x) => `${x.instancePath || '/'} ${x.message ?? ''}`.trim()).join('; ') : (e as Error).message;
    throw new StatebenchError(`${describeObject(obj)} does not match the Kubernetes schema: ${detail}`);
  }
}

export function validateAll(objs: K8sObject[]): void {
  for (const o of objs) validateObject(o);
}
