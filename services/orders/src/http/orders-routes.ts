import { z } from 'zod';
import { headerOf, HttpError, validationFailed, type FastifyRequest, type RequestContext, type ServiceHttp } from '@outbox-relay/runtime';
import { IdempotencyConflictError } from '../domain/errors';
import { createOrderRequestSchema, orderToJson, type CreateOrderRequest } from '../domain/order';
import type { OrderService, RequestMeta } from '../service/order-service';
import { createdOrderJson, orderJson } from './response-schemas';

const IDEMPOTENCY_KEY_MAX = 200;

/**
 * The optional `Idempotency-Key` header, checked by hand: a headers schema would copy every header of every
 * request to validate this one.
 */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = headerOf(request.raw, 'idempotency-key');
  if (key !== undefined && (key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX)) {
    throw validationFailed([{ path: 'Idempotency-Key', message: `header must be 1-${IDEMPOTENCY_KEY_MAX} characters` }]);
  }
  return key;
}

const orderIdParams = z.object({ id: z.uuid({ error: 'must be a UUID' }) });

function requestMeta(ctx: RequestContext, idempotencyKey: string | undefined): RequestMeta {
  const meta: RequestMeta = { correlationId: ctx.correlationId };
  if (ctx.traceparent !== undefined) meta.traceparent = ctx.traceparent;
  if (ctx.tracestate !== undefined) meta.tracestate = ctx.tracestate;
  if (idempotencyKey !== undefined) meta.idempotencyKey = idempotencyKey;
  return meta;
}

/** `POST /orders` and `GET /orders/:id` (see README). */
export function addOrdersRoutes(http: ServiceHttp, service: OrderService): void {
  http.route({
    url: '/orders',
    /**
     * 201 `{orderId, state}` with `Location`. With `Idempotency-Key`: a repeat of the same request answers 201
     * with the original body and `Idempotent-Replayed: true`, writing nothing; a different body under the key
     * is 422.
     */
    POST: {
      schema: { body: createOrderRequestSchema, response: { 201: createdOrderJson } },
      handler: async (request, reply) => {
        const ctx = request.requestContext;
        const key = idempotencyKeyOf(request);
        try {
          const result = await service.create(request.body as CreateOrderRequest, requestMeta(ctx, key));
          ctx.logFields.orderId = result.orderId;
          if (result.eventId) ctx.logFields.eventId = result.eventId;
          reply.code(201).header('Location', `/orders/${result.orderId}`);
          if (result.replayed) reply.header('Idempotent-Replayed', 'true');
          return { orderId: result.orderId, state: result.state };
        } catch (error) {
          if (error instanceof IdempotencyConflictError) {
            throw new HttpError(422, { error: 'idempotency_key_conflict', message: error.message });
          }
          throw error;
        }
      },
    },
  });
  http.route({
    url: '/orders/:id',
    GET: {
      schema: { params: orderIdParams, response: { 200: orderJson } },
      handler: async (request) => {
        const { id } = request.params as z.output<typeof orderIdParams>;
        const order = await service.find(id);
        if (!order) throw new HttpError(404, { error: 'not_found', message: `order ${id} not found` });
        request.requestContext.logFields.orderId = order.id;
        return orderToJson(order);
      },
    },
  });
}
