import type { FieldIssue } from '@outbox-relay/runtime';
import { IdempotencyConflictError } from '../domain/errors';
import { createOrderRequestSchema, orderToJson } from '../domain/order';
import type { OrderService, RequestMeta } from '../service/order-service';
import { readJsonBody } from './body';
import { fieldIssues, HttpError, validationFailed } from './errors';
import { headerOf } from './request-context';
import { sendJson } from './respond';
import type { Route } from './route';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDEMPOTENCY_KEY_MAX = 200;

function idempotencyKey(value: string | undefined, issues: FieldIssue[]): string | undefined {
  if (value === undefined) return undefined;
  if (value.length < 1 || value.length > IDEMPOTENCY_KEY_MAX) {
    issues.push({ path: 'Idempotency-Key', message: `header must be 1-${IDEMPOTENCY_KEY_MAX} characters` });
  }
  return value;
}

export function ordersRoutes(service: OrderService, bodyLimitBytes: number): Route[] {
  return [
    {
      template: '/orders',
      allow: ['POST'],
      methods: {
        /**
         * 201 `{orderId, state}` with `Location`. With `Idempotency-Key`: a repeat of the same request answers 201
         * with the original body and `Idempotent-Replayed: true`, writing nothing; a different body under the key
         * is 422.
         */
        POST: async ({ req, res, ctx }) => {
          const body = await readJsonBody(req, bodyLimitBytes);
          const issues: FieldIssue[] = [];
          const parsed = body === undefined ? null : createOrderRequestSchema.safeParse(body);
          if (parsed === null) issues.push({ path: '(root)', message: 'request body is required' });
          else if (!parsed.success) issues.push(...fieldIssues(parsed.error.issues));
          const key = idempotencyKey(headerOf(req, 'idempotency-key'), issues);
          if (issues.length > 0 || !parsed?.success) throw validationFailed(issues);

          const meta: RequestMeta = { correlationId: ctx.correlationId };
          if (ctx.traceparent !== undefined) meta.traceparent = ctx.traceparent;
          if (ctx.tracestate !== undefined) meta.tracestate = ctx.tracestate;
          if (key !== undefined) meta.idempotencyKey = key;
          try {
            const result = await service.create(parsed.data, meta);
            ctx.orderId = result.orderId;
            if (result.eventId) ctx.eventId = result.eventId;
            const headers: Record<string, string> = { Location: `/orders/${result.orderId}` };
            if (result.replayed) headers['Idempotent-Replayed'] = 'true';
            sendJson(req, res, 201, { orderId: result.orderId, state: result.state }, headers);
          } catch (error) {
            if (error instanceof IdempotencyConflictError) {
              throw new HttpError(422, { error: 'idempotency_key_conflict', message: error.message });
            }
            throw error;
          }
        },
      },
    },
    {
      template: '/orders/:id',
      allow: ['GET', 'HEAD'],
      methods: {
        GET: async ({ req, res, ctx, id = '' }) => {
          if (!UUID.test(id)) throw validationFailed([{ path: 'id', message: 'must be a UUID' }]);
          const order = await service.find(id);
          if (!order) throw new HttpError(404, { error: 'not_found', message: `order ${id} not found` });
          ctx.orderId = order.id;
          sendJson(req, res, 200, orderToJson(order));
        },
      },
    },
  ];
}
