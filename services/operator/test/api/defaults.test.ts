import { withDefaults } from '../../src/api/defaults';
import { specSchema } from '../../src/api/schema-spec';

describe('withDefaults', () => {
  test('fills every defaulted field of the CRD schema with the schema\'s own default', () => {
    const spec = withDefaults({ database: { secretRef: { name: 'db', key: 'url' } }, nats: { url: 'nats://n:4222' } });
    for (const [field, schema] of Object.entries(specSchema.properties ?? {})) {
      if (schema.default !== undefined) expect([field, spec[field as keyof typeof spec]]).toEqual([field, schema.default]);
    }
    expect(spec.database.schema).toBe(specSchema.properties?.database?.properties?.schema?.default);
    expect(spec.nats).toEqual({ url: 'nats://n:4222', stream: 'OUTBOX', subjectPrefix: 'outbox', duplicateWindowSeconds: 120, messageHeaders: 'outbox', streamManagement: 'create' });
    expect(spec.nats.messageHeaders).toBe(specSchema.properties?.nats?.properties?.messageHeaders?.default);
  });

  test('given values win over defaults, including falsy ones', () => {
    const spec = withDefaults({ replicas: 0, paused: true, failoverDelaySeconds: 0, nats: { url: 'nats://n:1', duplicateWindowSeconds: 30 } });
    expect(spec).toMatchObject({ replicas: 0, paused: true, failoverDelaySeconds: 0 });
    expect(spec.nats.duplicateWindowSeconds).toBe(30);
  });

  test('missing required references stay visibly empty for validation to report', () => {
    expect(withDefaults(undefined).database.secretRef).toEqual({ name: '', key: '' });
    expect(withDefaults(undefined).nats.url).toBe('');
  });
});
