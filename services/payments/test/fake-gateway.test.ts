/**
 * The fake payment gateway: deterministic outcomes per (order, attempt), one charge per idempotency key however
 * often it is called (also concurrently), the forced-failure switch and recovery.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, parseEnv } from '@outbox-relay/runtime';
import { FakePaymentGateway, fakeOutcome, migratePayments, paymentsEnvSchema, PaymentGatewayError } from '@outbox-relay/payments';
import { createTestSchema, type TestSchema, uniqueName } from '@outbox-relay/test-support';

let db: TestSchema;
let schema: string;
let inboxSchema: string;

beforeAll(async () => {
  db = await createTestSchema('fakegw_ob');
  schema = uniqueName('fakegw_pa');
  inboxSchema = uniqueName('fakegw_in');
  await migratePayments({ pool: db.pool, outboxSchema: db.schema, inboxSchema, paymentsSchema: schema, fakeGateway: true });
});
afterAll(async () => {
  for (const s of [schema, inboxSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await db.drop();
});

function gateway(settings: Partial<{ successRate: number; latencyMs: number; failing: boolean }> = {}) {
  return new FakePaymentGateway({ pool: db.pool, schema, settings: { successRate: 1, latencyMs: 0, failing: false, ...settings } });
}

const request = (orderId = randomUUID()) => ({ idempotencyKey: orderId, orderId, amount: 10, currency: 'EUR' });

describe('fake payment gateway', () => {
  it('decides by a hash of (key, attempt): same inputs same outcome, about successRate of keys succeed', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `order-${i}`);
    const first = keys.map((k) => fakeOutcome(k, 1, 0.7));
    expect(keys.map((k) => fakeOutcome(k, 1, 0.7))).toEqual(first);
    const rate = first.filter(Boolean).length / keys.length;
    expect(rate).toBeGreaterThan(0.65);
    expect(rate).toBeLessThan(0.75);
    expect(keys.every((k) => fakeOutcome(k, 3, 1))).toBe(true);
    expect(keys.some((k) => fakeOutcome(k, 3, 0))).toBe(false);
    // Attempts differ: some key failing on attempt 1 succeeds on attempt 2.
    expect(keys.some((k) => !fakeOutcome(k, 1, 0.5) && fakeOutcome(k, 2, 0.5))).toBe(true);
  });

  it('answers each call of a key as fakeOutcome(key, attempt) says, until one succeeds', async () => {
    const g = gateway({ successRate: 0.5 });
    const req = request();
    const seen: boolean[] = [];
    while (seen.length < 20 && !seen.includes(true)) seen.push(await g.charge(req).then(() => true, () => false));
    expect(seen).toEqual(seen.map((_, i) => fakeOutcome(req.idempotencyKey, i + 1, 0.5)));
    expect(seen[seen.length - 1]).toBe(true);
  });

  it('charges once per idempotency key: a repeated call replays the first charge', async () => {
    const g = gateway();
    const req = request();
    const first = await g.charge(req);
    expect(first).toMatchObject({ replayed: false, attempt: 1 });
    const second = await g.charge(req);
    expect(second).toEqual({ chargeId: first.chargeId, replayed: true, attempt: 2 });
    expect(await g.find(req.idempotencyKey)).toMatchObject({ calls: 2, chargeId: first.chargeId });
  });

  it('charges once when calls with one key race', async () => {
    const g = gateway({ latencyMs: 20 });
    const req = request();
    const results = await Promise.all(Array.from({ length: 5 }, () => g.charge(req)));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('fails every new charge while failing, replays earlier ones, and recovers', async () => {
    const g = gateway();
    const earlier = request();
    const { chargeId } = await g.charge(earlier);
    g.configure({ failing: true });
    const req = request();
    const error = await g.charge(req).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentGatewayError);
    expect(error).toMatchObject({ orderId: req.orderId, attempt: 1, code: 'declined' });
    await expect(g.charge(earlier)).resolves.toMatchObject({ chargeId, replayed: true });
    g.configure({ failing: false });
    await expect(g.charge(req)).resolves.toMatchObject({ replayed: false, attempt: 2 });
    expect(() => g.configure({ successRate: 2 })).toThrow(/successRate/);
  });

  it('waits latencyMs per call', async () => {
    const g = gateway({ latencyMs: 150 });
    const started = performance.now();
    await g.charge(request());
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });
});

describe('payments configuration', () => {
  const base = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' };

  it('has the documented defaults', () => {
    const config = parseEnv(paymentsEnvSchema, base);
    expect(config).toMatchObject({
      PAYMENTS_MAX_RETRIES: 3,
      PAYMENTS_BACKOFF_MIN_MS: 1000,
      PAYMENTS_BACKOFF_MAX_MS: 30_000,
      PAYMENTS_CONSUMER: 'payments',
      INBOX_SCHEMA: 'inbox',
      PAYMENTS_SCHEMA: 'payments',
      PAYMENTS_RELAY_ENABLED: true,
      PAYMENTS_GATEWAY: 'fake',
      FAKE_GATEWAY_SUCCESS_RATE: 1,
      FAKE_GATEWAY_FAILING: false,
      INBOX_RETENTION_MS: 7 * 86_400_000,
      INBOX_DEAD_LETTER_RETENTION_MS: 30 * 86_400_000,
    });
    // The worker reads no table of the order service, so it has no setting naming its schema.
    expect(config).not.toHaveProperty('ORDERS_SCHEMA');
  });

  it('names every bad variable', () => {
    const error = (() => {
      try {
        parseEnv(paymentsEnvSchema, {
          ...base,
          PAYMENTS_MAX_RETRIES: '-1',
          FAKE_GATEWAY_SUCCESS_RATE: '1.5',
          PAYMENTS_BACKOFF_MIN_MS: '5000',
          PAYMENTS_BACKOFF_MAX_MS: '100',
          PAYMENTS_GATEWAY: 'stripe',
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variables).toEqual(expect.arrayContaining(['PAYMENTS_MAX_RETRIES', 'FAKE_GATEWAY_SUCCESS_RATE', 'PAYMENTS_GATEWAY']));
  });

  it('checks cross-field rules: backoff order, pool size against concurrency, fake latency against ack_wait', () => {
    const variables = (env: Record<string, string>) => {
      try {
        parseEnv(paymentsEnvSchema, { ...base, ...env });
        return [];
      } catch (e) {
        return (e as ConfigError).variables;
      }
    };
    expect(variables({ PAYMENTS_BACKOFF_MIN_MS: '5000', PAYMENTS_BACKOFF_MAX_MS: '100' })).toEqual(['PAYMENTS_BACKOFF_MIN_MS']);
    expect(variables({ PAYMENTS_CONCURRENCY: '8', PAYMENTS_DB_POOL_MAX: '10' })).toEqual(['PAYMENTS_DB_POOL_MAX']);
    expect(variables({ FAKE_GATEWAY_LATENCY_MS: '5000', PAYMENTS_ACK_WAIT_MS: '2000' })).toEqual(['FAKE_GATEWAY_LATENCY_MS']);
    // Inbox rows must outlive the duplicate window by far (a late re-publish must still find its row).
    expect(variables({ INBOX_RETENTION_MS: String(9 * 120_000) })).toEqual(['INBOX_RETENTION_MS']);
    expect(variables({ INBOX_RETENTION_MS: String(10 * 120_000) })).toEqual([]);
  });
});
