// (1) Raw limit of the write path: one transaction = INSERT an order row + INSERT an outbox row, COMMIT with
// fsync (the server's synchronous_commit), over N plain pg connections for a fixed time. Same columns, types and
// indexes as the order service's and the outbox's tables; no advisory lock, no HTTP, no validation.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { outboxTables } from '@outbox-relay/outbox';
import type { BenchContext } from '../lib/context';
import { orderCreatedPayload } from '../lib/events';
import { dropSchemaLater, schemaName } from '../lib/resources';
import { sleep } from '../lib/stats';

export interface RawTxFigures {
  /** Transactions per second by connection count. */
  rates: Record<string, number>;
  clientCpuUsPerTx: Record<string, number>;
  seconds: number;
  synchronousCommit: string;
  fsync: string;
  best: number;
}

const ordersTable = (s: string) => `"${s}".orders`;

const DDL = (s: string) => `
  CREATE SCHEMA "${s}";
  CREATE TABLE ${ordersTable(s)} (
    id uuid PRIMARY KEY, customer_id uuid NOT NULL, amount numeric(14,2) NOT NULL, currency char(3) NOT NULL,
    state text NOT NULL DEFAULT 'CREATED', version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE ${outboxTables(s).outbox} (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id uuid NOT NULL UNIQUE, partition integer NOT NULL,
    aggregate_type text NOT NULL, aggregate_id text NOT NULL, event_type text NOT NULL, payload jsonb NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb, created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz, published_epoch bigint);
  CREATE INDEX ON ${outboxTables(s).outbox} (partition, seq) WHERE published_at IS NULL;`;

async function runFor(ctx: BenchContext, schema: string, connections: number, seconds: number) {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new Client({ connectionString: ctx.databaseUrl, application_name: 'bench-raw-tx' });
      await client.connect();
      return client;
    }),
  );
  const insertOrder = `INSERT INTO ${ordersTable(schema)} (id, customer_id, amount, currency) VALUES ($1, $2, $3, $4)`;
  const insertEvent = `INSERT INTO ${outboxTables(schema).outbox} (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
                       VALUES ($1, 0, 'Order', $2, 'OrderCreated', $3, $4)`;
  let measuring = false;
  let committed = 0;
  let stop = false;
  let failure: unknown = null;
  const loops = clients.map(async (client) => {
    try {
      while (!stop) {
        const orderId = randomUUID();
        const payload = orderCreatedPayload(orderId);
        await client.query('BEGIN');
        await client.query(insertOrder, [orderId, payload.customerId, payload.amount, payload.currency]);
        await client.query(insertEvent, [randomUUID(), orderId, JSON.stringify(payload), JSON.stringify({ correlationId: randomUUID() })]);
        await client.query('COMMIT');
        if (measuring) committed++;
      }
    } catch (error) {
      failure ??= error;
      stop = true;
    }
  });
  try {
    // A short warm-up (connections, plans, JIT) that is not counted.
    await sleep(ctx.quick ? 300 : 1000);
    measuring = true;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await sleep(seconds * 1000);
    measuring = false;
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = (performance.now() - started) / 1000;
    stop = true;
    await Promise.all(loops);
    if (failure) throw failure;
    // Client CPU per transaction (this process): what the order service's CPU per order is set against.
    return { rate: committed / elapsed, clientCpuUsPerTx: (cpu.user + cpu.system) / Math.max(1, committed) };
  } finally {
    stop = true;
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

export async function rawTransactions(ctx: BenchContext): Promise<RawTxFigures> {
  const schema = schemaName(ctx, 'rawtx');
  const drop = dropSchemaLater(ctx, schema);
  await ctx.pool.query(DDL(schema));
  const { rows } = await ctx.pool.query<{ sc: string; fsync: string }>(`SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync`);
  const seconds = ctx.quick ? 2 : 10;
  const rates: Record<string, number> = {};
  const clientCpuUsPerTx: Record<string, number> = {};
  for (const connections of [8, 32]) {
    const result = await runFor(ctx, schema, connections, seconds);
    rates[connections] = result.rate;
    clientCpuUsPerTx[connections] = result.clientCpuUsPerTx;
    ctx.log(`  ${connections} connections: ${Math.round(result.rate)} tx/s (${seconds} s); client CPU ${Math.round(result.clientCpuUsPerTx)} µs per transaction`);
  }
  await drop();
  return { rates, clientCpuUsPerTx, seconds, synchronousCommit: rows[0]!.sc, fsync: rows[0]!.fsync, best: Math.max(...Object.values(rates)) };
}
