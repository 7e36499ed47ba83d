import { ConfigError, parseEnv } from '@outbox-relay/runtime';
import { embeddedRelayOptionsFromEnv } from '@outbox-relay/outbox';
import { ordersEnvSchema } from '@outbox-relay/orders';
import { quietLogger } from '@outbox-relay/test-support';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

function configError(env: Record<string, string>): ConfigError {
  try {
    parseEnv(ordersEnvSchema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('orders configuration', () => {
  it('applies defaults', () => {
    const config = parseEnv(ordersEnvSchema, { DATABASE_URL });
    expect(config).toMatchObject({
      PORT: 8081,
      ORDERS_SCHEMA: 'orders',
      ORDERS_RELAY_ENABLED: true,
      HTTP_BODY_LIMIT: 64 * 1024,
      OUTBOX_SCHEMA: 'outbox',
      OUTBOX_MIGRATE: false,
      NATS_URL: 'nats://127.0.0.1:4222',
    });
    expect(config.SHUTDOWN_TIMEOUT_MS).toBeGreaterThan(0);
  });

  it('parses explicit values', () => {
    const config = parseEnv(ordersEnvSchema, {
      DATABASE_URL,
      PORT: '9000',
      ORDERS_SCHEMA: 'shop_orders',
      ORDERS_RELAY_ENABLED: 'false',
      HTTP_BODY_LIMIT: '1mb',
      SHUTDOWN_TIMEOUT_MS: '2500',
      OUTBOX_MIGRATE: 'true',
    });
    expect(config).toMatchObject({
      PORT: 9000,
      ORDERS_SCHEMA: 'shop_orders',
      ORDERS_RELAY_ENABLED: false,
      HTTP_BODY_LIMIT: 1024 * 1024,
      SHUTDOWN_TIMEOUT_MS: 2500,
      OUTBOX_MIGRATE: true,
    });
  });

  it('names a bad PORT', () => {
    expect(configError({ DATABASE_URL, PORT: 'eighty' }).variables).toEqual(['PORT']);
    expect(configError({ DATABASE_URL, PORT: '70000' }).variables).toEqual(['PORT']);
  });

  it('names a missing DATABASE_URL', () => {
    const error = configError({});
    expect(error.variables).toEqual(['DATABASE_URL']);
    expect(error.message).toContain('DATABASE_URL');
  });

  it('names every bad variable at once', () => {
    const error = configError({
      PORT: '-1',
      ORDERS_SCHEMA: 'Orders; DROP TABLE x',
      ORDERS_RELAY_ENABLED: 'maybe',
      HTTP_BODY_LIMIT: 'lots',
    });
    expect(error.variables.sort()).toEqual(['DATABASE_URL', 'HTTP_BODY_LIMIT', 'ORDERS_RELAY_ENABLED', 'ORDERS_SCHEMA', 'PORT']);
  });

  it('reads the write coalescing settings and keeps the writes in flight within the pool', () => {
    const config = parseEnv(ordersEnvSchema, { DATABASE_URL });
    expect(config).toMatchObject({ ORDERS_WRITE_BATCH_MAX: 100, ORDERS_WRITE_CONCURRENCY: 4, ORDERS_DB_POOL_MAX: 20 });
    expect(parseEnv(ordersEnvSchema, { DATABASE_URL, ORDERS_WRITE_BATCH_MAX: '1' }).ORDERS_WRITE_BATCH_MAX).toBe(1);
    expect(configError({ DATABASE_URL, ORDERS_WRITE_BATCH_MAX: '0' }).variables).toEqual(['ORDERS_WRITE_BATCH_MAX']);
    const tooMany = configError({ DATABASE_URL, ORDERS_DB_POOL_MAX: '8', ORDERS_WRITE_CONCURRENCY: '9' });
    expect(tooMany.variables).toEqual(['ORDERS_WRITE_CONCURRENCY']);
    expect(tooMany.message).toContain('ORDERS_DB_POOL_MAX (8)');
  });

  it('hands the header mode and the CloudEvents source to the embedded relay, and names a bad mode', () => {
    const config = parseEnv(ordersEnvSchema, { DATABASE_URL, OUTBOX_MESSAGE_HEADERS: 'both', OUTBOX_CLOUDEVENTS_SOURCE: '/shop/orders' });
    const { settings } = embeddedRelayOptionsFromEnv(config, { name: 'orders', logger: quietLogger });
    expect(settings).toMatchObject({ messageHeaders: 'both', cloudEventsSource: '/shop/orders' });
    expect(configError({ DATABASE_URL, OUTBOX_MESSAGE_HEADERS: 'json' }).variables).toEqual(['OUTBOX_MESSAGE_HEADERS']);
  });

  it('checks the relay timings', () => {
    expect(configError({ DATABASE_URL, OUTBOX_LEASE_MS: '2000', OUTBOX_RENEW_MS: '1500' }).variables).toEqual(['OUTBOX_RENEW_MS']);
  });
});
