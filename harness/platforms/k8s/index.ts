// The Kubernetes side of statebench, for the CLI and the run: `plan --render`, the kind/kubernetes
// platforms, and releasing what a killed run left on a cluster.
export { renderPlanTo, renderTarget, isKubernetesTarget } from './render/render.ts';
export { KubernetesPlatform, kubernetesPlatform, releaseKubernetesLeftover, K8S_NAMESPACE_RESOURCE, type KubernetesPlatformOptions } from './platform.ts';
export { KindCli } from './cluster.ts';
export { renderManifests, type TargetManifests } from './render/manifests.ts';
export { renderKindConfig, kindConfigYaml } from './render/kind-config.ts';
