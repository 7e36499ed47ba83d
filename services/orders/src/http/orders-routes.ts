import express, { Router, type RequestHandler } from 'express';
import type { FieldIssue } from '@outbox-relay/outbox';
import { IdempotencyConflictError } from '../domain/errors';
import { createOrderRequestSchema, orderToJson } from '../domain/order';
import type { OrderService, RequestMeta } from '../service/order-service';
import { fieldIssues, HttpError, methodNotAllowed, validationFailed } from './errors';
import { requestContextOf } from './request-context';

const JSON_TYPES = ['application/json', 'application/*+json'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDEMPOTENCY_KEY_MAX = 200;

/** Refuses non-JSON bodies before anything is read (a non-empty body without a type cannot be JSON either). */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (req.get('content-length') !== '0' && req.is(JSON_TYPES) === false) {
    next(new HttpError(415, { error: 'unsupported_media_type', message: 'Content-Type must be application/json' }));
    return;
  }
  next();
};

function idempotencyKey(value: string | undefined, issues: FieldIssue[]): string | undefined {
  if (value === undefined) return undefined;
  if (value.length < 1 || value.length > IDEMPOTENCY_KEY_MAX) {
    issues.push({ path: 'Idempotency-Key', message: `header must be 1-${IDEMPOTENCY_KEY_MAX} characters` });
  }
  return value;
}

export function ordersRouter(service: OrderService, bodyLimitBytes: number): Router {
  const router = Router();
  const parseJson = express.json({ limit: bodyLimitBytes, type: JSON_TYPES, strict: true });

  /**
   * 201 `{orderId, state}` with `Location`. With `Idempotency-Key`: a repeat of the same request answers 201 with
   * the original body and `Idempotent-Replayed: true`, writing nothing; a different body under the key is 422.
   */
  router.post('/orders', requireJsonBody, parseJson, async (req, res) => {
    const ctx = requestContextOf(res);
    const issues: FieldIssue[] = [];
    const parsed = req.body === undefined ? null : createOrderRequestSchema.safeParse(req.body);
    if (parsed === null) issues.push({ path: '(root)', message: 'request body is required' });
    else if (!parsed.success) issues.push(...fieldIssues(parsed.error.issues));
    const key = idempotencyKey(req.get('idempotency-key'), issues);
    if (issues.length > 0 || !parsed?.success) throw validationFailed(issues);

    const meta: RequestMeta = { correlationId: ctx.correlationId };
    if (ctx.traceparent !== undefined) meta.traceparent = ctx.traceparent;
    if (ctx.tracestate !== undefined) meta.tracestate = ctx.tracestate;
    if (key !== undefined) meta.idempotencyKey = key;
    try {
      const result = await service.create(parsed.data, meta);
      ctx.orderId = result.orderId;
      if (result.eventId) ctx.eventId = result.eventId;
      if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
      res
        .status(201)
        .location(`/orders/${result.orderId}`)
        .json({ orderId: result.orderId, state: result.state });
    } catch (error) {
      if (error instanceof IdempotencyConflictError) {
        throw new HttpError(422, { error: 'idempotency_key_conflict', message: error.message });
      }
      throw error;
    }
  });
  router.all('/orders', methodNotAllowed(['POST']));

  router.get('/orders/:id', async (req, res) => {
    const id = req.params.id;
    if (!UUID.test(id)) throw validationFailed([{ path: 'id', message: 'must be a UUID' }]);
    const order = await service.find(id);
    if (!order) throw new HttpError(404, { error: 'not_found', message: `order ${id} not found` });
    requestContextOf(res).orderId = order.id;
    res.json(orderToJson(order));
  });
  router.all('/orders/:id', methodNotAllowed(['GET', 'HEAD']));

  return router;
}
