import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { activeTraceHeaders, type EventHeaders, type Outbox } from '@outbox-relay/outbox';
import type { OrderRepository, IdempotencyRecord } from '../data/order-repository';
import { IdempotencyConflictError } from '../domain/errors';
import { type CreateOrderRequest, type Order, type OrderState, orderCreatedEvent, requestFingerprint } from '../domain/order';

/** Where a request came from, carried into the event headers. */
export interface RequestMeta {
  correlationId: string;
  traceparent?: string;
  tracestate?: string;
  idempotencyKey?: string;
}

export interface CreateOrderResult {
  orderId: string;
  state: OrderState;
  /** Id of the OrderCreated event written now; null when the request replayed an earlier one. */
  eventId: string | null;
  replayed: boolean;
}

/** Thrown inside the transaction to roll it back when the key already names an order. */
class KeyTaken {
  constructor(readonly record: IdempotencyRecord) {}
}

export interface OrderServiceDeps {
  pool: Pool;
  outbox: Outbox;
  repository: OrderRepository;
}

export class OrderService {
  constructor(private readonly deps: OrderServiceDeps) {}

  /**
   * Inserts the order and its OrderCreated event in one transaction. With an idempotency key, the key is claimed
   * first in that same transaction: a key already used for the same request replays that order and writes
   * nothing; for a different request it throws `IdempotencyConflictError`. Concurrent requests with one key
   * queue on the key's primary key, so at most one of them creates an order.
   */
  async create(request: CreateOrderRequest, meta: RequestMeta): Promise<CreateOrderResult> {
    const { outbox, repository } = this.deps;
    const key = meta.idempotencyKey;
    const fingerprint = key === undefined ? '' : requestFingerprint(request);
    try {
      return await this.traced(() =>
        outbox.transaction(async (tx) => {
          const orderId = randomUUID();
          if (key !== undefined) {
            const holder = await repository.claimIdempotencyKey(tx, key, fingerprint, orderId);
            if (holder) throw new KeyTaken(holder);
          }
          const order = await repository.insert(tx, { id: orderId, ...request });
          const [event] = await outbox.enqueue(tx, orderCreatedEvent(order, eventHeaders(meta)));
          return { orderId: order.id, state: order.state, eventId: event?.id ?? null, replayed: false };
        }),
      );
    } catch (error) {
      if (!(error instanceof KeyTaken)) throw error;
      if (error.record.requestHash !== fingerprint) throw new IdempotencyConflictError(key!);
      // The original response: the order as it was created.
      return { orderId: error.record.orderId, state: 'CREATED', eventId: null, replayed: true };
    }
  }

  find(id: string): Promise<Order | null> {
    return this.deps.repository.findById(this.deps.pool, id);
  }

  /**
   * The order transaction as one span (a child of the request's span), active while the transaction runs, so
   * `enqueue` stores its context in the event and the relay's publish and every consumer join this trace.
   */
  private traced(transaction: () => Promise<CreateOrderResult>): Promise<CreateOrderResult> {
    return trace.getTracer('@outbox-relay/orders').startActiveSpan(
      'order transaction',
      { attributes: { 'db.system.name': 'postgresql', 'db.operation.name': 'create order' } },
      async (span) => {
        try {
          const result = await transaction();
          span.setAttributes({ 'order.id': result.orderId, 'outbox.event_id': result.eventId ?? '' });
          return result;
        } catch (error) {
          if (error instanceof KeyTaken) span.setAttribute('order.idempotent_replay', true);
          else span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }
}

/**
 * With tracing on, the event carries the order transaction's context (`enqueue` adds it), a descendant of the
 * caller's traceparent; with tracing off, the caller's traceparent is passed on as it came.
 */
function eventHeaders(meta: RequestMeta): EventHeaders {
  const headers: EventHeaders = { correlationId: meta.correlationId };
  if (activeTraceHeaders().traceparent !== undefined) return headers;
  if (meta.traceparent !== undefined) headers.traceparent = meta.traceparent;
  if (meta.tracestate !== undefined) headers.tracestate = meta.tracestate;
  return headers;
}
