/**
 * The relay's read stays an ordered walk of the pending index whatever the planner statistics say. The trap it
 * avoids: without statistics (or with stale ones) the planner expects a handful of pending rows, so it plans a
 * bitmap scan of ALL pending rows plus a sort; on the benchmark's 200k backlog that made each 1000-row read take
 * 100-400 ms and the drain run at a third of its speed.
 */
import { OutboxReader, type Fence } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema } from '../../../test/helpers/db';

let db: TestSchema;
let reader: OutboxReader;
const fence: Fence = { partition: 0, holder: 'read-plan-test', epoch: 1 };
const BACKLOG = 100_000;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: unknown): PlanNode[] {
  const root = (plan as [{ Plan: PlanNode }])[0].Plan;
  const all: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    all.push(node);
    node.Plans?.forEach(walk);
  };
  walk(root);
  return all;
}

beforeAll(async () => {
  db = await createTestSchema('readplan');
  const t = `"${db.schema}"`;
  // Statistics stay exactly as this test leaves them: none. A fresh table meeting a sudden backlog before
  // autovacuum has come round (or where it is off, as on this machine) is planned on its size alone.
  await db.pool.query(`ALTER TABLE ${t}.outbox SET (autovacuum_enabled = false)`);
  await db.pool.query(
    `INSERT INTO ${t}.outbox (id, partition, aggregate_type, aggregate_id, event_type, payload)
     SELECT gen_random_uuid(), 0, 'Order', 'order-' || g, 'OrderCreated', jsonb_build_object('n', g, 'currency', 'EUR')
     FROM generate_series(1, $1) AS g`,
    [BACKLOG],
  );
  await db.pool.query(
    `UPDATE ${t}.outbox_partitions SET holder = $1, epoch = $2, expires_at = now() + interval '1 hour' WHERE partition = 0`,
    [fence.holder, fence.epoch],
  );
  reader = new OutboxReader(db.pool, db.schema);
});
afterAll(async () => {
  await db?.drop();
});

it('on these statistics the planner, left alone, sorts every pending row (the trap is real)', async () => {
  const { rows } = await db.pool.query(
    `EXPLAIN (FORMAT JSON) SELECT seq, payload FROM "${db.schema}".outbox WHERE partition = 0 AND published_at IS NULL ORDER BY seq LIMIT 1000`,
  );
  const types = nodesOf(rows[0]['QUERY PLAN']).map((n) => n['Node Type']);
  expect(types).toContain('Sort');
});

it('plans the read as an ordered scan of the pending index, with no sort and no bitmap scan', async () => {
  const nodes = nodesOf(await reader.explainReadPending(fence, 1000, ['1', '2']));
  const types = nodes.map((n) => n['Node Type']);
  expect(types).not.toContain('Sort');
  expect(types).not.toContain('Bitmap Heap Scan');
  const outboxScans = nodes.filter((n) => n['Relation Name'] === 'outbox');
  expect(outboxScans.map((n) => [n['Node Type'], n['Index Name']])).toEqual([['Index Scan', 'outbox_pending_idx']]);
});

it('reads the oldest pending events in seq order under that plan', async () => {
  const records = await reader.readPending(fence, 1000);
  const { rows } = await db.pool.query<{ s: string }>(
    `SELECT seq::text AS s FROM "${db.schema}".outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1000`,
  );
  expect(records?.map((r) => r.seq)).toEqual(rows.map((r) => r.s));
  expect(records?.[0]?.aggregateId).toBe('order-1');
});
