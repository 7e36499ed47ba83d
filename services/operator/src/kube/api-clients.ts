import { FIELD_MANAGER } from '../api/group';
import { k8s, type KubeConfig } from './client-node';

/** Used where no timeout is configured: a request to the API server must always end. */
export const DEFAULT_KUBE_API_TIMEOUT_MS = 10_000;

type RequestContext = InstanceType<typeof k8s.RequestContext>;
type ResponseContext = InstanceType<typeof k8s.ResponseContext>;
type Observable<T> = InstanceType<typeof k8s.Observable<T>>;
/** client-node's middleware shape (its per-call options take this form, not the promise one). */
interface Middleware {
  pre(context: RequestContext): Observable<RequestContext>;
  post(context: ResponseContext): Observable<ResponseContext>;
}
type ApiClass<T> = new (configuration: ReturnType<typeof k8s.createConfiguration>) => T;

const middleware = (pre: (context: RequestContext) => void): Middleware => ({
  pre: (context) => {
    pre(context);
    return new k8s.Observable(Promise.resolve(context));
  },
  post: (response) => new k8s.Observable(Promise.resolve(response)),
});

/**
 * Adds `signal` to a request, keeping any signal it already has: the request is aborted when either fires. Every
 * request of a client made here carries its own timeout; a caller with a tighter deadline (a Lease renewal that
 * must end before the renew deadline) adds its signal per call with `withSignal`.
 */
function signalMiddleware(signal: () => AbortSignal): Middleware {
  return middleware((context) => {
    const existing = context.getSignal();
    context.setSignal(existing ? AbortSignal.any([existing, signal()]) : signal());
  });
}

/**
 * API clients whose every request has a timeout. @kubernetes/client-node 2.x sets none: a request on a half-open
 * connection (a dead API server endpoint, a dropped NAT entry) waits forever, and a reconcile or a Lease renewal
 * with it. Its requests go through fetch with the RequestContext's AbortSignal, and middleware may set that signal
 * before the request is sent, so a timeout middleware covers the whole exchange, the body included. Every client
 * in this package is made here (a house test checks that nothing calls makeApiClient elsewhere).
 */
export function makeApiClient<T>(kubeConfig: KubeConfig, api: ApiClass<T>, timeoutMs: number = DEFAULT_KUBE_API_TIMEOUT_MS): T {
  return new api(timedConfiguration(kubeConfig, timeoutMs));
}

/** The generic object client (server-side apply of any kind), with the timeout and the context's namespace. */
export function makeObjectApiClient(kubeConfig: KubeConfig, timeoutMs: number = DEFAULT_KUBE_API_TIMEOUT_MS): InstanceType<typeof k8s.KubernetesObjectApi> {
  // What KubernetesObjectApi.makeApiClient does, but with our configuration (its namespace setter is protected).
  class TimedObjectApi extends k8s.KubernetesObjectApi {
    constructor() {
      super(timedConfiguration(kubeConfig, timeoutMs));
      this.setDefaultNamespace(kubeConfig);
    }
  }
  return new TimedObjectApi();
}

/** Per-call options adding `signal` to the client's own timeout (for the generated API classes' `_options`). */
export function withSignal(signal: AbortSignal): { middleware: Middleware[]; middlewareMergeStrategy: 'append' } {
  return { middleware: [signalMiddleware(() => signal)], middlewareMergeStrategy: 'append' };
}

function timedConfiguration(kubeConfig: KubeConfig, timeoutMs: number) {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    middleware: [
      // A new timer per request, started when the request is about to be sent.
      signalMiddleware(() => AbortSignal.timeout(timeoutMs)),
      middleware((context) => context.setHeaderParam('User-Agent', FIELD_MANAGER)),
    ],
  });
}
