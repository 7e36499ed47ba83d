// Public entry of @outbox-relay/outbox: the writer API, migrations, and the relay's building blocks.
export * from './errors';
export type { JsonValue, EventHeaders, OutboxEventInput, PreparedEvent } from './event';
export { DEFAULT_MAX_PAYLOAD_BYTES, prepareEvents, isReservedHeaderName, RESERVED_HEADER_PREFIXES } from './event';
export { enqueue, writeAtomically, type EnqueueOptions, type EnqueuedEvent, type BusinessStatement, type AtomicWriteResult } from './enqueue';
export { Outbox, type OutboxOptions } from './outbox';
export { withTransaction } from './transaction';
export { WakeNotifier } from './notifier';
export { RELAY_SIGNAL_PREFIX, relaySignalPayload, parseRelaySignal, type RelaySignal } from './relay-signals';
export {
  migrateOutbox,
  runMigrations,
  configurePartitions,
  readPartitionCount,
  waitForSchema,
  assertSchemaCurrent,
  OUTBOX_MIGRATIONS_DIR,
  type MigrationSet,
  type MigrateOutboxOptions,
  type RunMigrationsOptions,
} from './migrate';
export { outboxTables, assertSchemaName, type OutboxTables } from './names';
export {
  outboxEnvShape,
  relayEnvShape,
  relayEnvSchema,
  checkRelayTimings,
  relayTimingIssues,
  validateRelaySettings,
  relaySettingsFromEnv,
  defaultRelaySettings,
  defaultInstanceId,
  type RelayEnv,
  type RelaySettings,
} from './config';
export { LeaseElector, type LeaseElectorOptions } from './lease';
export { OutboxReader, type OutboxRecord, type Fence } from './reader';
export { JetStreamPublisher, ensureStream, permanentPublishError, UnpublishableEventError, OutboxHeaders, type PublishOutcome, type PublisherOptions, type StreamSpec } from './publisher';
export { PubAckCollector, jetStreamClientPublisher, type AckedPublisher, type PubAckCollectorOptions } from './pub-acks';
export { OutboxRelay, type OutboxRelayDeps, type RelayStatus, type PartitionStatus } from './relay';
export { connectNats } from './nats';
export { JetStreamApiCode, jetStreamApiCode } from './jetstream-codes';
export { startEmbeddedRelay, type EmbeddedRelay, type EmbeddedRelayOptions } from './embedded-relay';
export { deleteInBatches, type BatchedDelete } from './batched-delete';
export { sweepOutbox, RetentionSweeper, type OutboxRetention } from './retention';
export { noopRelayObserver, type RelayObserver } from './observer';
export { readBacklog, readOldestTransactionAgeSeconds, type PartitionBacklog } from './backlog';
export { outboxTracer, activeTraceHeaders, contextFromHeaders, linksTo } from './telemetry';
