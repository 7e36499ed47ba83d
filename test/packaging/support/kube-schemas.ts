import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { compileCrdValidator, type CrValidation } from '../../../services/operator/test/support/crd-validator';
import type { JsonSchema } from '../../../services/operator/src/api/schema-types';
import { fromRoot } from './paths';
import type { KubeObject } from './kube-objects';
import { validatePrometheusOperatorObject } from './prometheus-operator-schemas';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

/**
 * The kubernetes-models 4.5.1 class of a built-in kind: the package has one module per API group version
 * ("v1", "apps/v1", "rbac.authorization.k8s.io/v1") exporting one class per kind.
 */
function modelOf(apiVersion: string, kind: string): ModelClass {
  let groupVersion: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    groupVersion = require(`kubernetes-models/${apiVersion}`) as Record<string, unknown>;
  } catch {
    throw new Error(`kubernetes-models has no API group version ${apiVersion}`);
  }
  const model = groupVersion[kind];
  if (typeof model !== 'function') throw new Error(`kubernetes-models has no kind ${kind} in ${apiVersion}`);
  return model as ModelClass;
}

let outboxRelayValidator: ((resource: unknown) => CrValidation) | undefined;

/** Admission of an OutboxRelay as the API server would do it from deploy/crd/outboxrelays.yaml (operator's validator). */
export function validateOutboxRelay(resource: unknown): CrValidation {
  if (!outboxRelayValidator) {
    const crd = YAML.parse(fs.readFileSync(fromRoot('deploy/crd/outboxrelays.yaml'), 'utf8'));
    const version = crd.spec.versions.find((v: { storage: boolean }) => v.storage);
    outboxRelayValidator = compileCrdValidator(version.schema.openAPIV3Schema as JsonSchema);
  }
  return outboxRelayValidator(resource);
}

/**
 * Validates one object against the Kubernetes schema of its kind (after a JSON round trip, as the API server
 * receives it); OutboxRelays against the CRD; prometheus-operator's kinds against the subset of their CRDs in
 * prometheus-operator-schemas.ts. Throws naming the object and what is wrong.
 */
export function validateObject(object: KubeObject): void {
  const label = `${object.apiVersion}/${object.kind} ${object.metadata?.name ?? '(unnamed)'}`;
  const custom =
    object.apiVersion === 'outbox-relay.dev/v1alpha1' && object.kind === 'OutboxRelay'
      ? validateOutboxRelay
      : object.apiVersion === 'monitoring.coreos.com/v1'
        ? validatePrometheusOperatorObject
        : undefined;
  if (custom) {
    const result = custom(JSON.parse(JSON.stringify(object)));
    if (!result.valid) throw new Error(`${label} is invalid: ${result.errors.join('; ')}`);
    return;
  }
  const Model = modelOf(object.apiVersion, object.kind);
  try {
    new Model(JSON.parse(JSON.stringify(object))).validate();
  } catch (error) {
    throw new Error(`${label} is invalid: ${(error as Error).message}`);
  }
}

/** Every YAML document of a file under the repository root. */
export function readManifests(relative: string): KubeObject[] {
  return YAML.parseAllDocuments(fs.readFileSync(fromRoot(relative), 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

export function readYaml<T = unknown>(relative: string): T {
  return YAML.parse(fs.readFileSync(path.isAbsolute(relative) ? relative : fromRoot(relative), 'utf8')) as T;
}
