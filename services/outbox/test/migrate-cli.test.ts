import { Pool } from 'pg';
import { readPartitionCount } from '@outbox-relay/outbox';
import { TEST_DATABASE_URL, uniqueName, startService } from '@outbox-relay/test-support';

describe('outbox-migrate command', () => {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const schema = uniqueName('migcli');
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('creates the schema with the requested partitions and is idempotent', async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, OUTBOX_SCHEMA: schema, OUTBOX_PARTITIONS: '3', LOG_LEVEL: 'silent' };
    expect(await startService('services/outbox/dist/cli/migrate.js', env).exited).toBe(0);
    expect(await readPartitionCount(pool, schema)).toBe(3);
    const again = startService('services/outbox/dist/cli/migrate.js', env);
    expect(await again.exited).toBe(0);
    expect(again.logs.at(-1)).toMatchObject({ schema, ran: [], partitions: 3 });
  });

  it('exits 2 naming the bad variable', async () => {
    const proc = startService('services/outbox/dist/cli/migrate.js', { DATABASE_URL: 'mysql://nope', OUTBOX_SCHEMA: 'Bad-Name' });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(proc.stderr()).toMatch(/OUTBOX_SCHEMA/);
  });
});
