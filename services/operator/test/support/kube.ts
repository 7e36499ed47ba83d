import { k8s, type KubeConfig } from '../../src/kube/client-node';

/** What the client-node environment puts on the sandbox's global object. */
export interface ClientNodeGlobal {
  loadClientNode(): unknown;
}

/** A kubeconfig for the fake API server: plain HTTP, no credentials. */
export function kubeConfigFor(url: string, namespace = 'default'): KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'test', namespace }],
    currentContext: 'fake',
  });
  return kc;
}
