// Public entry of @outbox-relay/inbox: exactly-once processing of JetStream events with a Postgres inbox.
// The logger every option named `logger` accepts: any pino-compatible logger, or `console` (the runtime's, passed on).
export type { Logger } from '@outbox-relay/runtime';
export { Inbox, type InboxOptions, type InboxHandler, type HandleOutcome, type DeadLetterOutcome } from './inbox';
export { inboxEventFromMsg, type InboxEvent } from './event';
export { withConsumerSpan } from './tracing';
export { PermanentHandlerError, HandlerFailedError, describeError } from './errors';
export {
  startInboxConsumer,
  retryDelayMs,
  type InboxConsumer,
  type InboxConsumerOptions,
  type InboxConsumerStats,
} from './consumer';
export { ensureDurableConsumer, type DurableConsumerSpec } from './durable-consumer';
export { startInboxWorker, type InboxWorker, type InboxWorkerSpec } from './inbox-worker';
export { migrateInbox, INBOX_MIGRATIONS_DIR } from './migrate';
export { inboxTables, type InboxTables } from './names';
export { sweepInbox, type SweepInboxOptions } from './retention';
