/**
 * A relay of this version on a schema a previous version migrated (a relay upgraded before the schema was) says
 * which migrations are missing, instead of failing on every read.
 */
import { SchemaNotMigratedError, assertSchemaCurrent, migrateOutbox } from '@outbox-relay/outbox';
import { createTestSchema, undoNewestOutboxMigration, type TestSchema, createTestStream, type TestStream, makeRelay } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
beforeAll(async () => {
  db = await createTestSchema('schemaver');
  ns = await createTestStream('schemaver');
});
afterAll(async () => {
  await ns.drop();
  await db.drop();
});


it('accepts a fully migrated schema, and names the missing migration of an older one', async () => {
  await expect(assertSchemaCurrent(db.pool, db.schema)).resolves.toBeUndefined();
  // The schema as the previous version left it.
  const NEWEST_MIGRATION = await undoNewestOutboxMigration(db.pool, db.schema);

  const error = await assertSchemaCurrent(db.pool, db.schema).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SchemaNotMigratedError);
  expect((error as Error).message).toContain(NEWEST_MIGRATION);
  // The command is checked against the real CLI in migrate-cli.test.ts.
  expect((error as Error).message).toContain(`run \`OUTBOX_SCHEMA=${db.schema} outbox-migrate\``);

  const relay = makeRelay(db, ns, ns.nc);
  await expect(relay.start()).rejects.toThrow(NEWEST_MIGRATION);
  await relay.stop();

  await migrateOutbox({ pool: db.pool, schema: db.schema });
  await expect(assertSchemaCurrent(db.pool, db.schema)).resolves.toBeUndefined();
});

it('says the tables are missing when the schema was never migrated', async () => {
  await expect(assertSchemaCurrent(db.pool, `${db.schema}_none`)).rejects.toThrow('outbox tables not found');
});
