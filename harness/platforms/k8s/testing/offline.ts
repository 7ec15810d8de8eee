// A kubeconfig for unit tests that never reach a cluster: clients can be built from it, and a call
// that would go out fails (nothing listens on 127.0.0.1:9).
import { KubeConfig } from '@kubernetes/client-node';

export function offlineKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'x', server: 'http://127.0.0.1:9', skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'x', user: 'u' }], currentContext: 'x' });
  return kc;
}
