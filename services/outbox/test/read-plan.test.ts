/**
 * The relay's read stays an ordered walk of the pending index whatever the planner statistics say. The trap it
 * avoids: without statistics (or with stale ones) the planner expects a handful of pending rows, so it plans a
 * bitmap scan of ALL pending rows plus a sort; on the benchmark's 200k backlog that made each 1000-row read take
 * 100-400 ms and the drain run at a third of its speed.
 *
 * The read is a function (migrations 1733000000000_read_pending.sql, 1733900000000_progress_on_lease_row.sql) planned without the caller's parameter
 * values, which by itself kept the index scan in every case constructed here; its `SET enable_sort = off` and
 * `SET enable_bitmapscan = off` guard the cases these tests cannot construct. Reverting to the plain statement
 * (planned with the values) fails the second test.
 */
import { Pool } from 'pg';
import { OutboxReader, type Fence } from '@outbox-relay/outbox/internal';
import { createTestSchema, type TestSchema, TEST_DATABASE_URL } from '@outbox-relay/test-support';

let db: TestSchema;
let reader: OutboxReader;
/**
 * One connection that reports, as notices, the plan of every statement it runs (nested ones included), with a
 * cost model that makes random heap reads look dear: the planner then prefers a bitmap scan plus a sort even
 * for the function's generic plan, so only the read's own settings can keep it on the index.
 */
let explaining: Pool;
const plans: unknown[] = [];
const fence: Fence = { partition: 0, holder: 'read-plan-test', epoch: 1 };
const BACKLOG = 100_000;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: unknown): PlanNode[] {
  const root = Array.isArray(plan) ? (plan as [{ Plan: PlanNode }])[0].Plan : (plan as { Plan: PlanNode }).Plan;
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
  // autovacuum has come round (or where it is off, as on this machine) is planned on its size alone. That size is
  // what tips the plain statement into the sort: payloads as small as {"n": 1, "currency": "EUR"} stored as json
  // (verbatim text, smaller than jsonb's binary form) leave it on the index, so these are order-sized.
  await db.pool.query(`ALTER TABLE ${t}.outbox SET (autovacuum_enabled = false)`);
  await db.pool.query(
    `INSERT INTO ${t}.outbox (id, partition, aggregate_type, aggregate_id, event_type, payload)
     SELECT gen_random_uuid(), 0, 'Order', 'order-' || g, 'OrderCreated',
            json_build_object('orderId', 'order-' || g, 'customerId', md5(g::text), 'amount', g, 'currency', 'EUR')
     FROM generate_series(1, $1) AS g`,
    [BACKLOG],
  );
  await db.pool.query(
    `UPDATE ${t}.outbox_partitions SET holder = $1, epoch = $2, expires_at = now() + interval '1 hour' WHERE partition = 0`,
    [fence.holder, fence.epoch],
  );
  explaining = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  explaining.on('connect', (client) => {
    client.on('notice', (notice) => {
      const json = /plan:\s*(\{[\s\S]*\})\s*$/.exec(notice.message ?? '')?.[1];
      if (json) plans.push(JSON.parse(json));
    });
    void client.query(
      `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
       SET auto_explain.log_format = 'json'; SET auto_explain.log_level = 'notice'; SET client_min_messages = 'notice';
       SET random_page_cost = 100`,
    );
  });
  reader = new OutboxReader(explaining, db.schema);
});
afterAll(async () => {
  await explaining?.end();
  await db?.drop();
});

it('on these statistics the planner, left alone, sorts every pending row (the trap is real)', async () => {
  const { rows } = await db.pool.query(
    `EXPLAIN (FORMAT JSON) SELECT seq, payload FROM "${db.schema}".outbox WHERE partition = 0 AND published_at IS NULL ORDER BY seq LIMIT 1000`,
  );
  const types = nodesOf(rows[0]['QUERY PLAN']).map((n) => n['Node Type']);
  expect(types).toContain('Sort');
});

it('reads as an ordered scan of the pending index, with no sort and no bitmap scan (the plan it really ran)', async () => {
  plans.length = 0;
  const records = await reader.readPending(fence, 1000, ['1', '2']);
  expect(records).toHaveLength(1000);
  // The statement inside the read function, as auto_explain reported it from the reader's own connection.
  const inner = plans.map(nodesOf).filter((nodes) => nodes.some((n) => n['Relation Name'] === 'outbox'));
  expect(inner).toHaveLength(1);
  const nodes = inner[0]!;
  const types = nodes.map((n) => n['Node Type']);
  expect(types).not.toContain('Sort');
  expect(types).not.toContain('Bitmap Heap Scan');
  const outboxScans = nodes.filter((n) => n['Relation Name'] === 'outbox');
  // Three ordered probes (migration 1733900000000): after the cursor and behind it along the pending index, and the
  // skipped seqs along the primary key (an array probe of its first column comes out in seq order).
  expect(outboxScans.map((n) => [n['Node Type'], n['Index Name']])).toEqual([
    ['Index Scan', 'outbox_pending_idx'],
    ['Index Scan', 'outbox_pending_idx'],
    ['Index Scan', 'outbox_pkey'],
  ]);
});

it('reads the oldest pending events in seq order under that plan', async () => {
  const records = await reader.readPending(fence, 1000);
  const { rows } = await db.pool.query<{ s: string }>(
    `SELECT seq::text AS s FROM "${db.schema}".outbox_pending ORDER BY seq LIMIT 1000`,
  );
  expect(records?.map((r) => r.seq)).toEqual(rows.map((r) => r.s));
  expect(records?.[0]?.aggregateId).toBe('order-1');
});
