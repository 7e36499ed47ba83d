/** sweepInbox: old inbox rows and resolved dead letters go in batches; recent rows and open dead letters stay. */
import { sweepInbox } from '@outbox-relay/inbox';
import { createInboxTestDb, type InboxTestDb } from './support/inbox-db';

let db: InboxTestDb;
beforeAll(async () => {
  db = await createInboxTestDb('inboxret');
});
afterAll(() => db.drop());

it('deletes only what is past retention', async () => {
  const t = `"${db.schema}"`;
  await db.pool.query(
    `INSERT INTO ${t}.inbox (consumer, event_id, event_type, subject, processed_at)
     SELECT 'payments', 'old-' || g, 'E', 's', now() - interval '8 days' FROM generate_series(1, 5) g
     UNION ALL SELECT 'payments', 'new-' || g, 'E', 's', now() - interval '1 hour' FROM generate_series(1, 2) g`,
  );
  await db.pool.query(
    `INSERT INTO ${t}.inbox_failures (consumer, event_id, failures, last_error, last_failed_at)
     VALUES ('payments', 'stale', 2, 'x', now() - interval '8 days'), ('payments', 'retrying', 1, 'x', now())`,
  );
  await db.pool.query(
    `INSERT INTO ${t}.inbox_dead_letters (consumer, event_id, event_type, subject, headers, reason, attempts, failed_at, resolved_at, resolution)
     VALUES ('payments', 'd1', 'E', 's', '{}', 'r', 4, now() - interval '60 days', now() - interval '40 days', 'replayed'),
            ('payments', 'd2', 'E', 's', '{}', 'r', 4, now() - interval '60 days', now() - interval '1 day', 'discarded'),
            ('payments', 'd3', 'E', 's', '{}', 'r', 4, now() - interval '60 days', NULL, NULL)`,
  );
  const result = await sweepInbox({ pool: db.pool, schema: db.schema, olderThanMs: 7 * 86_400_000, deadLetterOlderThanMs: 30 * 86_400_000, batchSize: 2 });
  expect(result).toEqual({ inbox: 5, failures: 1, deadLetters: 1 });
  const ids = async (table: string, column = 'event_id') => (await db.pool.query(`SELECT ${column} AS id FROM ${t}.${table} ORDER BY 1`)).rows.map((r) => r.id);
  expect(await ids('inbox')).toEqual(['new-1', 'new-2']);
  expect(await ids('inbox_failures')).toEqual(['retrying']);
  expect(await ids('inbox_dead_letters')).toEqual(['d2', 'd3']);
});
