/**
 * Outages are logged by state change, not by retry (issue 13, case 11): a relay whose private Postgres is stopped
 * for a few seconds, retrying every 50-200 ms on several partitions, writes one WARN per failing activity when
 * the outage starts (with the error) and one INFO when it is over, and keeps stack traces out of the retries.
 */
import { Writable } from 'node:stream';
import { Pool } from 'pg';
import pino from 'pino';
import { connectNats, migrateOutbox, Outbox, OutboxRelay, defaultRelaySettings } from '@outbox-relay/outbox';
import type { NatsConnection } from '@nats-io/transport-node';
import { TEST_NATS_URL, uniqueName, waitFor, PrivatePostgres, testNeeding, countPendingEvents } from '@outbox-relay/test-support';

/** A private Postgres, stopped and started again by the test. */
const withPostgresServer = testNeeding('postgres-server');

let pg: PrivatePostgres;
let pool: Pool;
let nats: NatsConnection;
const lines: Array<Record<string, unknown>> = [];
const names = { stream: uniqueName('outlogs').toUpperCase(), subjectPrefix: uniqueName('outlogs') };

beforeAll(async () => {
  pg = await PrivatePostgres.start();
  pool = new Pool({ connectionString: pg.url, max: 6 });
  pool.on('error', () => undefined);
  await migrateOutbox({ pool, schema: 'outbox', partitions: 4 });
  nats = await connectNats({ url: TEST_NATS_URL, name: 'outage-logs' });
}, 60_000);
afterAll(async () => {
  await pool.end();
  await nats.close();
  await pg.destroy();
});

withPostgresServer('a Postgres outage is one WARN per failing activity, a summary while it lasts, and one INFO when it ends', async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const relay = new OutboxRelay(
    { pool, nats, logger },
    defaultRelaySettings({ ...names, leaseMs: 1000, renewMs: 200, pollMs: 50, backoffMinMs: 20, backoffMaxMs: 200 }),
  );
  await relay.start();
  const outbox = new Outbox({ pool, schema: 'outbox' });
  try {
    await waitFor('all 4 partitions led', () => (relay.status().partitions.every((p) => p.leading) ? true : undefined));
    const before = lines.length;
    await pg.stop('fast');
    // Long enough for dozens of retries of every activity (renewals every 200 ms, balance checks, publishing).
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const during = lines.slice(before);
    await pg.start();
    await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'after', eventType: 'Step', payload: {} }));
    await waitFor('publishing again after the outage', async () => (await countPendingEvents(pool, 'outbox')) === 0 || undefined, 30_000);

    const warnings = during.filter((l) => (l.level as number) >= 40);
    const byMessage = new Map<string, number>();
    for (const w of warnings) byMessage.set(String(w.msg), (byMessage.get(String(w.msg)) ?? 0) + 1);
    // One line per activity when it starts failing (the summary comes every 30 s, after this outage), plus the
    // one-off state changes (each partition's lease lost once).
    for (const [msg, count] of byMessage) {
      if (msg === 'lease lost' || msg === 'stopped publishing: lease lost') expect(count).toBeLessThanOrEqual(4);
      else expect({ msg, count }).toEqual({ msg, count: 1 });
    }
    expect(warnings.length).toBeLessThan(20);
    expect(byMessage.get('lease heartbeats failing; retrying')).toBe(1);
    expect(byMessage.get('balance check failing; retrying')).toBe(1);
    // Stack traces only with the first line of each failure, never on retries.
    const withStacks = warnings.filter((w) => JSON.stringify(w).includes('"stack"'));
    expect(withStacks.length).toBeLessThanOrEqual(byMessage.size);
    const recovered = lines.filter((l) => String(l.msg).endsWith('recovered'));
    expect(recovered.map((l) => l.msg)).toEqual(expect.arrayContaining(['lease heartbeats recovered', 'balance check recovered']));
  } finally {
    await outbox.close();
    await relay.stop();
  }
}, 90_000);
