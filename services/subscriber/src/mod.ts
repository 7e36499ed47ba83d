// Public entry of @outbox-relay/subscriber: run a fan-out subscriber in-process (tests, the demo) or via main.ts.
export {
  startSubscriber,
  consumerNameFor,
  type StartSubscriberOptions,
  type Subscriber,
  type SubscriberState,
  type ReceivedEvent,
  type EventHandler,
  type DeliveryOutcome,
} from './consumer';
export { SubscriberMetrics } from './metrics';
export { loadSubscriberConfig, subscriberEnvSchema, subscriberEnvShape, type SubscriberConfig } from './config';
