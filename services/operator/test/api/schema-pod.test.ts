/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { templateSchema } from '../../src/api/schema-pod';
import type { JsonSchema } from '../../src/api/schema-types';
import { k8s } from '../../src/kube/client-node';
import { type ClientNodeGlobal } from '../support/kube';

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}

/** Fields of the real types deliberately not offered (see schema-pod.ts). */
const LEFT_OUT = new Set(['V1EnvVarSource.fileKeyRef']);

const modelOf = (type: string): Attribute[] => {
  const model = (k8s as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>)[type];
  if (!model?.attributeTypeMap) throw new Error(`client-node has no model ${type}`);
  return model.attributeTypeMap;
};

/**
 * Walks a schema of schema-pod.ts alongside the client-node model (generated from the Kubernetes OpenAPI) of the
 * type it stands for: the same fields, of the same types, all the way down. Returns the mismatches.
 */
function compare(schema: JsonSchema | undefined, type: string, format: string, path: string): string[] {
  if (!schema) return [`${path}: missing`];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return schema.type === 'array' ? compare(schema.items, array[1]!, '', `${path}[]`) : [`${path}: not an array`];
  if (type === '{ [key: string]: string; }') {
    return schema.type === 'object' && (schema.additionalProperties as JsonSchema | undefined)?.type === 'string' ? [] : [`${path}: not a string map`];
  }
  if (type === 'string') {
    // Quantities are strings in the models and int-or-string in the schemas.
    return schema.type === 'string' || schema['x-kubernetes-int-or-string'] ? [] : [`${path}: not a string`];
  }
  if (type === 'number') return schema.type === 'integer' && schema.format === format ? [] : [`${path}: not an integer of format ${format}`];
  if (type === 'boolean') return schema.type === 'boolean' ? [] : [`${path}: not a boolean`];
  if (!type.startsWith('V1')) return [`${path}: model type ${type} not handled by this test`];
  if (schema.type !== 'object') return [`${path}: not an object`];
  const fields = modelOf(type).filter((a) => !LEFT_OUT.has(`${type}.${a.baseName}`));
  const problems = Object.keys(schema.properties ?? {})
    .filter((key) => !fields.some((a) => a.baseName === key))
    .map((key) => `${path}.${key}: not a field of ${type}`);
  for (const field of fields) problems.push(...compare(schema.properties?.[field.baseName], field.type, field.format, `${path}.${field.baseName}`));
  return problems;
}

describe('spec.template schemas follow the Kubernetes types (client-node\'s models of the core/v1 OpenAPI)', () => {
  const pod = templateSchema.properties?.pod?.properties ?? {};
  const podSpec = modelOf('V1PodSpec');
  const container = modelOf('V1Container');

  test.each(['imagePullSecrets', 'nodeSelector', 'affinity', 'tolerations', 'topologySpreadConstraints', 'priorityClassName'])('pod.%s is a PodSpec field, complete', (field) => {
    const attribute = podSpec.find((a) => a.baseName === field)!;
    expect(compare(pod[field], attribute.type, attribute.format, `pod.${field}`)).toEqual([]);
  });

  test.each(['env', 'envFrom'])('container.%s is a Container field, complete', (field) => {
    const attribute = container.find((a) => a.baseName === field)!;
    expect(compare(templateSchema.properties?.container?.properties?.[field], attribute.type, attribute.format, `container.${field}`)).toEqual([]);
  });

  test('the comparison is not a rubber stamp: a missing field, an extra one and a wrong type are reported', () => {
    const toleration = structuredClone(pod.tolerations!.items!);
    delete toleration.properties!.effect;
    toleration.properties!.effects = { type: 'string' };
    toleration.properties!.tolerationSeconds = { type: 'integer', format: 'int32' };
    expect(compare(toleration, 'V1Toleration', '', 't').sort()).toEqual([
      't.effect: missing',
      't.effects: not a field of V1Toleration',
      't.tolerationSeconds: not an integer of format int64',
    ]);
  });

  test('lists are marked as in the real schemas, and every map key is required', () => {
    expect(pod.imagePullSecrets).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { required: ['name'] } });
    expect(pod.topologySpreadConstraints).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['topologyKey', 'whenUnsatisfiable'] });
    expect(pod.topologySpreadConstraints?.items?.required).toEqual(expect.arrayContaining(['topologyKey', 'whenUnsatisfiable']));
    expect(pod.tolerations?.['x-kubernetes-list-type']).toBe('atomic');
    const env = templateSchema.properties?.container?.properties?.env;
    expect(env).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { required: ['name'] } });
    expect(templateSchema.properties?.container?.properties?.envFrom?.['x-kubernetes-list-type']).toBe('atomic');
    // Every array anywhere in the template carries a list type.
    const unmarked: string[] = [];
    const walk = (s: JsonSchema | undefined, path: string) => {
      if (!s) return;
      if (s.type === 'array' && !s['x-kubernetes-list-type']) unmarked.push(path);
      for (const [key, child] of Object.entries(s.properties ?? {})) walk(child, `${path}.${key}`);
      walk(s.items, `${path}[]`);
    };
    walk(templateSchema, 'template');
    expect(unmarked).toEqual([]);
  });
});
