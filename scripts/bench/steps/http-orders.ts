// (3) POST /orders through the real service process (embedded relay OFF: this is the write path alone, to set
// against the raw transaction rate; the relay would compete for the same two cores). autocannon, closed loop,
// enough connections to keep the service's 20-connection database pool busy, for a fixed duration.
// Three times: with the product defaults (creates arriving while writes are in flight share one statement and one
// commit); with ORDERS_WRITE_BATCH_MAX=1 (one transaction per order, as the raw limit does), for comparison; and
// as two replicas (two processes on the same schemas, each sent half the connections), as a Deployment with
// replicas: 2 runs it: one Node process uses one core, and the raw limit of (1) uses both.
// Orders per transaction are counted from the orders' xmin: rows written by one transaction share it.
import { randomUUID } from 'node:crypto';
import { outboxTables } from '@outbox-relay/outbox';
import { runAutocannon, type AutocannonOptions, type AutocannonResult } from '../lib/autocannon';
import type { BenchContext } from '../lib/context';
import { measureCpu } from '../lib/processes';
import { startOrdersService, type OrdersService } from '../lib/services';

export interface HttpFigures {
  rate: number;
  replicas: number;
  connections: number;
  seconds: number;
  created: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: AutocannonResult['latency'];
  ordersInDb: number;
  ordersPerTransaction: number;
  createdTotal: number;
  cpu: { service: number; client: number };
  serviceCpuUsPerOrder: number;
}

export interface HttpOrdersFigures extends HttpFigures {
  unbatched: HttpFigures;
  /** Two replicas of the service. */
  twoReplicas: HttpFigures;
}

export async function httpOrders(ctx: BenchContext): Promise<HttpOrdersFigures> {
  const figures = await measure(ctx, 'http', {});
  ctx.log('  the same with ORDERS_WRITE_BATCH_MAX=1 (one transaction per order):');
  const unbatched = await measure(ctx, 'http1', { ORDERS_WRITE_BATCH_MAX: '1' });
  ctx.log('  two replicas of the service (two processes, the same schemas), half of the connections each:');
  const twoReplicas = await measure(ctx, 'http2', {}, 2);
  return { ...figures, unbatched, twoReplicas };
}

type Totals = Pick<AutocannonResult, 'duration' | 'statusCodeStats' | 'non2xx' | 'errors' | 'timeouts' | 'latency'>;

/** Sums autocannon results of the replicas; latency percentiles are the worst replica's (they cannot be merged). */
function combine(results: AutocannonResult[]): Totals {
  const worst = (key: keyof AutocannonResult['latency']) => Math.max(...results.map((r) => r.latency[key]));
  return {
    duration: Math.max(...results.map((r) => r.duration)),
    statusCodeStats: { 201: { count: results.reduce((n, r) => n + Number(r.statusCodeStats?.['201']?.count ?? 0), 0) } },
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    timeouts: results.reduce((n, r) => n + r.timeouts, 0),
    latency: { p50: worst('p50'), p90: worst('p90'), p99: worst('p99'), max: worst('max') },
  };
}

async function measure(ctx: BenchContext, suffix: string, env: Record<string, string>, replicas = 1): Promise<HttpFigures> {
  const service = await startOrdersService(ctx, suffix, { relay: false, env });
  const services: OrdersService[] = [service];
  for (let i = 1; i < replicas; i++) {
    services.push(await startOrdersService(ctx, suffix, { relay: false, env, replicaOf: service, name: `orders-${suffix}-${i}` }));
  }
  const connections = ctx.quick ? 32 : 64;
  const seconds = ctx.quick ? 3 : 15;
  // Each service is sent its share of the connections.
  const options = (url: string, duration: number): AutocannonOptions => ({
    url,
    method: 'POST',
    connections: connections / replicas,
    duration,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ customerId: randomUUID(), amount: 42.5, currency: 'EUR' }),
        }),
      },
    ],
  });
  const runAll = async (duration: number) => combine(await Promise.all(services.map((s) => runAutocannon(options(`${s.url}/orders`, duration)))));
  const warmup = await runAll(ctx.quick ? 1 : 2);
  const serviceCpu = services.map((s) => measureCpu(s.proc.pid));
  const clientCpu = measureCpu(process.pid);
  const result = await runAll(seconds);
  const cpu = { service: serviceCpu.reduce((sum, m) => sum + m.stop(), 0), client: clientCpu.stop() };
  const created = (r: Totals) => Number(r.statusCodeStats?.['201']?.count ?? 0);
  const rate = created(result) / result.duration;
  const { rows } = await ctx.pool.query<{ n: number; transactions: number; events: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS transactions,
            (SELECT count(*)::int FROM ${outboxTables(service.outboxSchema).outbox}) AS events
       FROM "${service.ordersSchema}".orders`,
  );
  const counts = rows[0]!;
  for (const s of services) await s.proc.remove();
  const figures: HttpFigures = {
    rate,
    replicas,
    connections,
    seconds: result.duration,
    created: created(result),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    ordersInDb: counts.n,
    ordersPerTransaction: counts.n / Math.max(1, counts.transactions),
    createdTotal: created(warmup) + created(result),
    cpu,
    serviceCpuUsPerOrder: (cpu.service * 1e6) / rate,
  };
  ctx.log(
    `  ${connections} connections, ${result.duration.toFixed(1)} s: ${Math.round(rate)} orders/s, latency p50 ${figures.latency.p50} ms, ` +
      `p99 ${figures.latency.p99} ms; non-2xx ${result.non2xx}, errors ${result.errors}; orders in db ${figures.ordersInDb} (201s ${figures.createdTotal}), ` +
      `${figures.ordersPerTransaction.toFixed(1)} orders per transaction`,
  );
  ctx.log(
    `  CPU (share of one core): service${replicas > 1 ? ` (${replicas} processes)` : ''} ${(cpu.service * 100).toFixed(0)} % = ${Math.round(figures.serviceCpuUsPerOrder)} µs per order; ` +
      `autocannon (this process) ${(cpu.client * 100).toFixed(0)} %`,
  );
  // Requests still in flight when autocannon stops may commit without being counted, never the other way round.
  if (figures.ordersInDb < figures.createdTotal || figures.ordersInDb > figures.createdTotal + 2 * connections) {
    throw new Error(`${figures.createdTotal} orders answered 201 but ${figures.ordersInDb} are in the database`);
  }
  if (counts.events !== counts.n) throw new Error(`${counts.n} orders but ${counts.events} outbox events`);
  return figures;
}
