import { Pool } from 'pg';
import { readdirSync } from 'node:fs';
import { OUTBOX_MIGRATIONS_DIR, outboxTables } from '@outbox-relay/outbox';
import { INBOX_MIGRATIONS_DIR } from '@outbox-relay/inbox';
import { ctl } from './support';
import { TEST_DATABASE_URL, uniqueName } from '@outbox-relay/test-support';

const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
const schema = uniqueName('ctl_migrate');
const inboxSchema = uniqueName('ctl_migrate_inbox');
const env = { DATABASE_URL: TEST_DATABASE_URL };

afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS "${inboxSchema}" CASCADE`);
  await pool.end();
});

/** Every migration shipped in a directory, by the name node-pg-migrate records. */
const shipped = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();

async function tables(name: string): Promise<string[]> {
  const { rows } = await pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, [name]);
  return rows.map((r: { tablename: string }) => r.tablename);
}

describe('outboxctl migrate', () => {
  it('creates the outbox and inbox tables with the partition count, then reports up to date', async () => {
    const first = await ctl(['migrate', '--schema', schema, '--inbox-schema', inboxSchema, '--partitions', '3', '--json'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout);
    expect(result).toEqual({
      outbox: { schema, ran: shipped(OUTBOX_MIGRATIONS_DIR), partitions: 3 },
      inbox: { schema: inboxSchema, ran: shipped(INBOX_MIGRATIONS_DIR) },
    });
    expect(await tables(schema)).toEqual(expect.arrayContaining(['outbox', 'outbox_dead_letters', 'outbox_partitions', 'outbox_settings']));
    expect(await tables(inboxSchema)).toEqual(expect.arrayContaining(['inbox', 'inbox_dead_letters', 'inbox_failures']));
    const { rows } = await pool.query(`SELECT partition FROM ${outboxTables(schema).partitions} ORDER BY partition`);
    expect(rows.map((r: { partition: number }) => r.partition)).toEqual([0, 1, 2]);

    const again = await ctl(['migrate'], { ...env, OUTBOX_SCHEMA: schema, INBOX_SCHEMA: inboxSchema });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`outbox schema "${schema}": up to date; 3 partition(s)\ninbox schema "${inboxSchema}": up to date\n`);
  });

  it('gives up a partition change when no relay drains the outbox in time (exit 1), keeping the count', async () => {
    await pool.query(
      `INSERT INTO ${outboxTables(schema).outbox} (id, partition, aggregate_type, aggregate_id, event_type, payload)
       VALUES (gen_random_uuid(), 0, 'Order', 'o-1', 'OrderCreated', '{}')`,
    );
    const { code, stderr } = await ctl(['migrate', '--schema', schema, '--inbox-schema', inboxSchema, '--partitions', '2', '--drain-timeout', '200'], env);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot change partitions from 3 to 2: 1 events still unpublished after 200 ms (are relays running?); nothing changed');
    const { rows } = await pool.query(`SELECT partitions FROM ${outboxTables(schema).settings}`);
    expect(rows[0].partitions).toBe(3);
  });
});
