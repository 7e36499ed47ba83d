// Public entry of @outbox-relay/outbox: what an application needs to write events in its transactions, keep the
// schema, and run or embed a relay. The building blocks below it (the elector, the reader, the publisher, the
// acknowledgement collector, ...) are in `@outbox-relay/outbox/internal`, for this system's other packages and
// tests; they may change without notice.
export * from './errors';
// The logger every option named `logger` accepts: any pino-compatible logger, or `console` (the runtime's, passed on).
export { silentLogger, type Logger, type LogContext } from '@outbox-relay/runtime';
export type { JsonValue, EventHeaders, OutboxEventInput, OutboxEventFields, OutboxEventPayload } from './write/event';
export { DEFAULT_MAX_PAYLOAD_BYTES, isReservedHeaderName, RESERVED_HEADER_PREFIXES } from './write/event';
export { enqueue, writeAtomically, type EnqueueOptions, type EnqueuedEvent, type BusinessStatement, type AtomicWriteResult } from './write/enqueue';
export { Outbox, type OutboxOptions } from './write/outbox';
export { withTransaction } from './transaction';
export { PostgresPrimary, PrimaryPool, openClient, type PrimaryPoolConfig } from './postgres/postgres-primary';
export { parseDatabaseTarget, SESSION_REQUIREMENTS, type DatabaseTarget, type DatabaseHost, type SessionRequirement } from './postgres/database-target';
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
} from './schema/migrate';
export { outboxTables, assertSchemaName, type OutboxTables } from './schema/names';
export {
  outboxEnvShape,
  relayEnvShape,
  relayEnvSchema,
  checkRelayTimings,
  relayTimingIssues,
  validateRelaySettings,
  relaySettingsFromEnv,
  streamLimitsFromEnv,
  streamOwnershipFromEnv,
  defaultRelaySettings,
  defaultInstanceId,
  defaultCloudEventsSource,
  MESSAGE_HEADER_MODES,
  type MessageHeaderMode,
  type RelayEnv,
  type RelaySettings,
} from './config';
export { OutboxRelay, type OutboxRelayDeps, type RelayStatus, type PartitionStatus } from './relay/relay';
export { startEmbeddedRelay, embeddedRelayOptionsFromEnv, type EmbeddedRelay, type EmbeddedRelayOptions } from './relay/embedded-relay';
export { noopRelayObserver, type PublishTiming, type RelayObserver } from './relay/observer';
export { connectNats, natsConnectionFromEnv, type NatsConnectionSettings, type NatsTlsFiles } from './publish/nats';
export { UnpublishableEventError } from './publish/publisher';
export { ensureStream, ensureStreamReport, type StreamSpec, type StreamOwnership, type StreamReport, type EnsureStreamOutcome } from './publish/ensure-stream';
export {
  StreamConfigError,
  STREAM_STORAGE_TYPES,
  STREAM_DISCARD_POLICIES,
  STREAM_MANAGEMENT_MODES,
  subjectFilterCovers,
  type StreamLimits,
  type StreamLimitDifference,
  type StreamManagement,
  type StreamStorage,
  type StreamDiscard,
  type StreamProblem,
} from './publish/stream-config';
export {
  OutboxHeaders,
  CloudEventsHeaders,
  isRelayHeaderName,
  encodeCloudEventsHeaderValue,
  decodeCloudEventsHeaderValue,
} from './publish/message-headers';
export { sweepOutbox, RetentionSweeper, type OutboxRetention } from './maintenance/retention';
export { readBacklog, readOldestTransactionAgeSeconds, type PartitionBacklog } from './maintenance/backlog';
export { outboxTracer, activeTraceHeaders, contextFromHeaders, linksTo, type TraceHeaders } from './telemetry';
