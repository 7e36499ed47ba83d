/**
 * @kubernetes/client-node 1.x ships only as an ES module while this package compiles to CommonJS. Node loads an
 * ES module through require() from 20.19 on (this library has no top-level await), so this one require gives
 * every other file synchronous access; a static import would not compile (TS1479) and a dynamic import() would
 * make every caller async. Types come through the resolution-mode attribute.
 */
import type * as ClientNode from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export const k8s = require('@kubernetes/client-node') as typeof ClientNode;

export type {
  CoreV1Event,
  Informer,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ObjectCache,
  V1Deployment,
  V1Lease,
  V1LeaseSpec,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
