// Internal entry of @outbox-relay/outbox (`@outbox-relay/outbox/internal`): the building blocks the relay is made
// of, for this system's other packages (inbox, outboxctl, telemetry) and for tests. Not a stable API.
export { prepareEvents, type PreparedEvent } from './write/event';
export { WakeNotifier } from './write/notifier';
export { LeaseElector, type AcquiredStreamCheck, type LeaseElectorOptions } from './election/lease';
export { PartitionBalancer } from './election/balancer';
export { RELAY_SIGNAL_PREFIX, relaySignalPayload, parseRelaySignal, type RelaySignal } from './relay-signals';
export { OutboxReader, type Fence } from './relay/reader';
export type { OutboxRecord } from './outbox-record';
export { buildMessageHeaders, partitionHeaderOf, type MessageHeaderOptions } from './publish/message-headers';
export { JetStreamPublisher, permanentPublishError, type PublishOutcome, type PublisherOptions } from './publish/publisher';
export { SendWindow } from './publish/send-window';
export { findStoredEvents, StreamCheckError, type StoredEvents } from './publish/stream-check';
export { MessageHeaders } from './publish/message-headers-impl';
export { PubAckCollector, jetStreamClientPublisher, type AckedPublisher, type PubAckCollectorOptions } from './publish/pub-acks';
export { JetStreamApiCode, jetStreamApiCode } from './publish/jetstream-codes';
export { deleteInBatches, type BatchedDelete } from './maintenance/batched-delete';
export { MessagingAttributes, MESSAGING_SYSTEM_NATS, messagingAttributes, messagingSpanName, recordMessagingError, type MessagingOperation } from './messaging-spans';
