import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { activeTraceHeaders, EventValidationError, type EventHeaders, type Outbox, type OutboxEventInput } from '@outbox-relay/outbox';
import { WriteBatcher } from './write-batcher';
import type { IdempotencyRecord, NewOrder, OrderRepository } from '../data/order-repository';
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

/** How concurrent creates without an idempotency key share statements (see WriteBatcher). */
export interface OrderWriteBatching {
  maxBatch: number;
  maxInFlight: number;
}

export const DEFAULT_WRITE_BATCHING: OrderWriteBatching = { maxBatch: 100, maxInFlight: 4 };

export interface OrderServiceDeps {
  pool: Pool;
  outbox: Outbox;
  repository: OrderRepository;
  writeBatching?: OrderWriteBatching;
}

/** A new order and its OrderCreated event, waiting to be written together. */
interface OrderWrite {
  order: NewOrder & { createdAt: Date };
  event: OutboxEventInput & { id: string };
}

/**
 * Errors that prove a write was refused as a whole before anything committed: invalid events (thrown before
 * the statement is sent) and statements Postgres rejected for their data (SQLSTATE classes 22 and 23).
 */
function refusedWrite(error: unknown): boolean {
  if (error instanceof EventValidationError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

export class OrderService {
  private readonly writes: WriteBatcher<OrderWrite, string>;

  constructor(private readonly deps: OrderServiceDeps) {
    this.writes = new WriteBatcher((batch) => this.writeOrders(batch), {
      ...(deps.writeBatching ?? DEFAULT_WRITE_BATCHING),
      retryAlone: refusedWrite,
    });
  }

  /**
   * Inserts the order and its OrderCreated event in one transaction. Without an idempotency key that transaction
   * is one statement, shared with the creates queued behind the writes in flight (WriteBatcher); each create still
   * resolves only once its order and event are committed. With a key, the key is claimed first in the transaction: a key already used for the same request replays that order and writes
   * nothing; for a different request it throws `IdempotencyConflictError`. Concurrent requests with one key
   * queue on the key's primary key, so at most one of them creates an order.
   */
  async create(request: CreateOrderRequest, meta: RequestMeta): Promise<CreateOrderResult> {
    const { outbox, repository } = this.deps;
    const key = meta.idempotencyKey;
    const fingerprint = key === undefined ? '' : requestFingerprint(request);
    const newOrder: NewOrder & { createdAt: Date } = { id: randomUUID(), ...request, customerId: request.customerId.toLowerCase(), createdAt: new Date() };
    try {
      return await this.traced(async () => {
        const event = { ...orderCreatedEvent(createdOrder(newOrder), eventHeaders(meta)), id: randomUUID() };
        if (key === undefined) {
          // Nothing to check first: the order and its event go in ONE statement, shared with the creates that
          // queued behind the writes in flight (see writeOrders).
          await this.writes.submit({ order: newOrder, event });
          return { orderId: newOrder.id, state: 'CREATED' as const, eventId: event.id, replayed: false };
        }
        return outbox.transaction(async (tx) => {
          const holder = await repository.claimIdempotencyKey(tx, key, fingerprint, newOrder.id);
          if (holder) throw new KeyTaken(holder);
          const order = await repository.insert(tx, newOrder);
          await outbox.enqueue(tx, event);
          return { orderId: order.id, state: order.state, eventId: event.id, replayed: false };
        });
      });
    } catch (error) {
      if (!(error instanceof KeyTaken)) throw error;
      if (error.record.requestHash !== fingerprint) throw new IdempotencyConflictError(key!);
      // The original response: the order as it was created.
      return { orderId: error.record.orderId, state: 'CREATED', eventId: null, replayed: true };
    }
  }

  /**
   * Writes a batch of new orders and their events as ONE statement (one round trip, one commit, atomic on its
   * own: all of them or none). Resolves with each order's id once committed.
   */
  private async writeOrders(batch: OrderWrite[]): Promise<string[]> {
    const { outbox, repository } = this.deps;
    const written = await outbox.write(
      repository.insertStatement(batch.map((w) => w.order), 'ids'),
      batch.map((w) => w.event),
    );
    if (written.rows.length !== batch.length || written.events.length !== batch.length) {
      throw new Error(`wrote ${written.rows.length} orders and ${written.events.length} events for ${batch.length} creates`);
    }
    return batch.map((w) => w.order.id);
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

/** The order as `insertStatement` creates it, for its OrderCreated event (written in the same statement). */
function createdOrder(order: NewOrder & { createdAt: Date }): Order {
  return { ...order, state: 'CREATED', version: 1, updatedAt: order.createdAt };
}

/**
 * With tracing on, the event carries the order transaction's context, a descendant of the caller's traceparent;
 * with tracing off, the caller's traceparent is passed on as it came. Taken here, in the request's context: a
 * batched write runs in whichever context started its flush.
 */
function eventHeaders(meta: RequestMeta): EventHeaders {
  const headers: EventHeaders = { correlationId: meta.correlationId };
  const active = activeTraceHeaders();
  const trace = active.traceparent !== undefined ? active : meta;
  if (trace.traceparent !== undefined) headers.traceparent = trace.traceparent;
  if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate;
  // Baggage travels with tracing on only: without an SDK there is no propagator to read or write it.
  if (active.baggage !== undefined) headers.baggage = active.baggage;
  return headers;
}
