// The product's own processes (built dist), configured on this run's schemas and streams.
import { outboxTables } from '@outbox-relay/outbox';
import { freePort } from '@outbox-relay/test-support';
import type { NodeProcess } from '../../lib/node-process';
import type { BenchContext } from './context';
import { startNode, waitHttpOk } from './processes';
import { dropSchemaLater, schemaName, type RunStream } from './resources';

export interface OrdersService {
  proc: NodeProcess;
  url: string;
  port: number;
  ordersSchema: string;
  outboxSchema: string;
}

export interface OrdersServiceOptions {
  relay: boolean;
  stream?: Pick<RunStream, 'stream' | 'subjectPrefix'>;
  env?: Record<string, string>;
  replicaOf?: OrdersService | null;
  name?: string;
}

/**
 * services/orders/dist/main.js on fresh schemas `<tag>_<suffix>_or` / `_ob` (migrated at start-up).
 * `relay: false` sets ORDERS_RELAY_ENABLED=false; `replicaOf` (a service started before) runs another process on
 * its schemas, as a Deployment with more replicas would. LOG_LEVEL is warn unless --log-level says otherwise: at
 * info the service writes one access-log line per request, and the benchmark measures the service, not its log pipe.
 */
export async function startOrdersService(ctx: BenchContext, suffix: string, options: OrdersServiceOptions): Promise<OrdersService> {
  const { relay, stream, env = {}, replicaOf = null, name = `orders-${suffix}` } = options;
  // A replica shares the schemas of the service it replicates (its migration at start-up finds nothing to do).
  const ordersSchema = replicaOf?.ordersSchema ?? schemaName(ctx, `${suffix}_or`);
  const outboxSchema = replicaOf?.outboxSchema ?? schemaName(ctx, `${suffix}_ob`);
  if (!replicaOf) {
    dropSchemaLater(ctx, ordersSchema);
    dropSchemaLater(ctx, outboxSchema);
  }
  const service = await startHttpService(ctx, name, 'services/orders/dist/main.js', 'PORT', {
    ORDERS_SCHEMA: ordersSchema,
    OUTBOX_SCHEMA: outboxSchema,
    OUTBOX_MIGRATE: 'true',
    ORDERS_RELAY_ENABLED: relay ? 'true' : 'false',
    ...(stream ? { OUTBOX_STREAM: stream.stream, OUTBOX_SUBJECT_PREFIX: stream.subjectPrefix } : {}),
    ...env,
  });
  return { ...service, ordersSchema, outboxSchema };
}

export interface RelayProcess {
  proc: NodeProcess;
  url: string;
  port: number;
  instanceId: string;
  name: string;
}

/** services/relay/dist/main.js on an existing outbox schema, with a fixed instance id (the lease holder name). */
export async function startRelayProcess(
  ctx: BenchContext,
  name: string,
  {
    schema,
    stream,
    env = {},
    nodeArgs = [],
  }: { schema: string; stream: Pick<RunStream, 'stream' | 'subjectPrefix'>; env?: Record<string, string>; nodeArgs?: string[] },
): Promise<RelayProcess> {
  const instanceId = `${ctx.tag}-${name}`;
  const service = await startHttpService(
    ctx,
    name,
    'services/relay/dist/main.js',
    'RELAY_HTTP_PORT',
    { OUTBOX_SCHEMA: schema, OUTBOX_STREAM: stream.stream, OUTBOX_SUBJECT_PREFIX: stream.subjectPrefix, RELAY_INSTANCE_ID: instanceId, ...env },
    nodeArgs,
  );
  return { ...service, instanceId, name };
}

/**
 * A service on this run's servers, its HTTP port (environment variable `portVariable`) a free one, ready once
 * GET /readyz answers 200. (The port is picked in advance: at LOG_LEVEL warn no line says which port it took.)
 */
async function startHttpService(ctx: BenchContext, name: string, script: string, portVariable: string, env: Record<string, string>, nodeArgs: string[] = []) {
  const port = await freePort();
  const proc = startNode(
    ctx,
    name,
    script,
    { DATABASE_URL: ctx.databaseUrl, NATS_URL: ctx.natsUrl, [portVariable]: String(port), LOG_LEVEL: ctx.childLogLevel, ...env },
    nodeArgs,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttpOk(proc, `${url}/readyz`);
  return { proc, url, port };
}

/** A partition's lease row; times as epoch milliseconds (database clock). */
export interface Lease {
  holder: string | null;
  epoch: number;
  acquired_ms: number;
  valid: boolean;
  published_total: number;
  last_published_ms: number | null;
}

/** The lease row of `partition`: holder, epoch, and times as epoch milliseconds (database clock). */
export async function leaseOf(ctx: BenchContext, schema: string, partition = 0): Promise<Lease> {
  const { rows } = await ctx.pool.query<Omit<Lease, 'acquired_ms' | 'last_published_ms'> & { acquired_ms: string; last_published_ms: string | null }>(
    `SELECT holder, epoch::int AS epoch, extract(epoch FROM acquired_at) * 1000 AS acquired_ms,
            expires_at > now() AS valid, published_total::int AS published_total,
            extract(epoch FROM last_published_at) * 1000 AS last_published_ms
       FROM ${outboxTables(schema).partitions} WHERE partition = $1`,
    [partition],
  );
  const row = rows[0];
  if (!row) throw new Error(`no lease row for partition ${partition} in ${schema}`);
  return { ...row, acquired_ms: Number(row.acquired_ms), last_published_ms: row.last_published_ms === null ? null : Number(row.last_published_ms) };
}
