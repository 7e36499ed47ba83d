import { clone, getAt, mergePatch, setAt, type JsonObject } from './json';
import type { ResourceType } from './resources';
import { StatusError } from './store';

/** The autoscaling/v1 Scale an object shows through its scale subresource. */
export function scaleOf(r: ResourceType, o: JsonObject): JsonObject {
  const mapping = r.scale!;
  const m = o.metadata as JsonObject;
  const selector = mapping.selector(o);
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name!, namespace: m.namespace!, uid: m.uid!, resourceVersion: m.resourceVersion!, creationTimestamp: m.creationTimestamp! },
    spec: { replicas: (getAt(o, mapping.specReplicasPath) as number | undefined) ?? 0 },
    status: { replicas: (getAt(o, mapping.statusReplicasPath) as number | undefined) ?? 0, ...(selector ? { selector } : {}) },
  };
}

/** The object after a PUT or merge PATCH of its Scale: only the spec replicas path changes. */
export function scaled(r: ResourceType, current: JsonObject, verb: string, contentType: string, body: JsonObject): JsonObject {
  const type = contentType.split(';')[0]!.trim();
  if (verb === 'patch' && type !== 'application/merge-patch+json') {
    throw new StatusError(415, 'UnsupportedMediaType', `the fake only supports merge patch on scale, got ${type}`);
  }
  const wanted = verb === 'update' ? body : (mergePatch(scaleOf(r, current), body) as JsonObject);
  const replicas = (wanted.spec as { replicas?: unknown } | undefined)?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new StatusError(422, 'Invalid', 'Scale.autoscaling "" is invalid: spec.replicas: Invalid value: must be greater than or equal to 0');
  }
  const next = clone(current);
  setAt(next, r.scale!.specReplicasPath, replicas);
  return next;
}
