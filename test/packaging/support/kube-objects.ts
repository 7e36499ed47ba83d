import type { V1Container, V1EnvVar, V1PodTemplateSpec } from '../../../services/operator/src/api/k8s-types';

/** A rendered Kubernetes object as plain JSON (what helm, kubectl and YAML files produce). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Each test narrows what it reads; manifests are untyped JSON at this edge.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

export function findObject(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length} among: ${have}`);
  }
  return found[0]!;
}

export const kindsOf = (objects: KubeObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

export function podTemplateOf(workload: KubeObject): V1PodTemplateSpec {
  return workload.spec.template as V1PodTemplateSpec;
}

export function onlyContainer(workload: KubeObject): V1Container {
  const containers = podTemplateOf(workload).spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`${workload.kind}/${workload.metadata.name} has ${containers.length} containers`);
  return containers[0]!;
}

export interface EnvSources {
  /** Secret name -> key -> value, for secretKeyRef. */
  secrets?: Record<string, Record<string, string>>;
  /** Downward API field path -> value, for fieldRef. */
  fields?: Record<string, string>;
}

/**
 * The environment a container would see, as the kubelet resolves it: literal values, secretKeyRef from the given
 * Secrets, fieldRef from the given pod fields. Anything it cannot resolve is an error, so no variable is dropped.
 */
export function resolveEnv(env: V1EnvVar[] | undefined, sources: EnvSources = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const variable of env ?? []) {
    if (variable.value !== undefined) {
      out[variable.name] = variable.value;
      continue;
    }
    const secretRef = variable.valueFrom?.secretKeyRef;
    const fieldRef = variable.valueFrom?.fieldRef;
    let value: string | undefined;
    if (secretRef) value = sources.secrets?.[secretRef.name ?? '']?.[secretRef.key];
    else if (fieldRef) value = sources.fields?.[fieldRef.fieldPath];
    if (value === undefined) throw new Error(`cannot resolve ${variable.name}: ${JSON.stringify(variable.valueFrom)}`);
    out[variable.name] = value;
  }
  return out;
}

/** Secret data as strings (stringData, or base64 data). */
export function secretsOf(objects: KubeObject[]): Record<string, Record<string, string>> {
  const secrets: Record<string, Record<string, string>> = {};
  for (const secret of objects.filter((o) => o.kind === 'Secret')) {
    const data: Record<string, string> = { ...(secret.stringData ?? {}) };
    for (const [key, value] of Object.entries((secret.data ?? {}) as Record<string, string>)) data[key] = Buffer.from(value, 'base64').toString('utf8');
    secrets[secret.metadata.name] = data;
  }
  return secrets;
}

/** True when every label of `selector` is on `labels`. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
