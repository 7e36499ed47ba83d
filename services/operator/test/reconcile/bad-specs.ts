import type { OutboxRelaySpecInput } from '../../src/api/defaults';

/**
 * Invalid resources, each with the field the error must name. Shared by the reconcile's validation test and the
 * CRD schema test: both layers must reject every one of them, naming the same field.
 */
export interface BadRelay {
  title: string;
  name?: string;
  spec: OutboxRelaySpecInput;
  field: string;
}

const db = { secretRef: { name: 'orders-db', key: 'url' } };
const nats = { url: 'nats://nats:4222' };

export const BAD_RELAYS: BadRelay[] = [
  { title: 'negative replicas', spec: { replicas: -1, database: db, nats }, field: 'spec.replicas' },
  { title: 'too many partitions', spec: { partitionCount: 2000, database: db, nats }, field: 'spec.partitionCount' },
  { title: 'zero batch size', spec: { batchSize: 0, database: db, nats }, field: 'spec.batchSize' },
  { title: 'batch size too large', spec: { batchSize: 10_001, database: db, nats }, field: 'spec.batchSize' },
  { title: 'zero publish window', spec: { publishWindow: 0, database: db, nats }, field: 'spec.publishWindow' },
  { title: 'a read bound under 1 KiB', spec: { batchMaxBytes: 100, database: db, nats }, field: 'spec.batchMaxBytes' },
  { title: 'lease too short for the relay', spec: { leaseDurationMs: 100, renewIntervalMs: 50, database: db, nats }, field: 'spec.leaseDurationMs' },
  { title: 'fractional failover delay', spec: { failoverDelaySeconds: 1.5, database: db, nats }, field: 'spec.failoverDelaySeconds' },
  {
    title: 'renew interval above half the lease (CEL)',
    spec: { leaseDurationMs: 2000, renewIntervalMs: 1500, database: db, nats },
    field: 'spec.renewIntervalMs',
  },
  {
    title: 'duplicate window under 10 x lease (CEL)',
    spec: { leaseDurationMs: 5000, nats: { ...nats, duplicateWindowSeconds: 30 }, database: db },
    field: 'spec.nats.duplicateWindowSeconds',
  },
  { title: 'unknown log level', spec: { logLevel: 'verbose' as never, database: db, nats }, field: 'spec.logLevel' },
  { title: 'http URL for NATS', spec: { database: db, nats: { url: 'http://nats:4222' } }, field: 'spec.nats.url' },
  { title: 'wildcard subject prefix', spec: { database: db, nats: { ...nats, subjectPrefix: 'orders.>' } }, field: 'spec.nats.subjectPrefix' },
  { title: 'unknown message header mode', spec: { database: db, nats: { ...nats, messageHeaders: 'json' as never } }, field: 'spec.nats.messageHeaders' },
  { title: 'CloudEvents source with a space', spec: { database: db, nats: { ...nats, cloudEventsSource: '/my orders' } }, field: 'spec.nats.cloudEventsSource' },
  { title: 'stream name with a dot', spec: { database: db, nats: { ...nats, stream: 'ORDERS.V1' } }, field: 'spec.nats.stream' },
  {
    title: 'upper-case database schema',
    spec: { database: { ...db, schema: 'Outbox' }, nats },
    field: 'spec.database.schema',
  },
  {
    title: 'secret name with upper case',
    spec: { database: { secretRef: { name: 'Orders_DB', key: 'url' } }, nats },
    field: 'spec.database.secretRef.name',
  },
  { title: 'pull policy misspelt', spec: { imagePullPolicy: 'always' as never, database: db, nats }, field: 'spec.imagePullPolicy' },
  { title: 'name with a dot', name: 'orders.relay', spec: { database: db, nats }, field: 'metadata.name' },
  { title: 'name too long for its pods', name: 'r'.repeat(48), spec: { database: db, nats }, field: 'metadata.name' },
];
