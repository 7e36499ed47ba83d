// What every HA step gets: the benchmark's context (lib/context.ts: the run's tag and directory, a pg pool, a NATS
// connection, the clean-up) with its NATS on a private 3-node JetStream cluster of the run, the cluster itself (to
// kill and restart its servers) and the run's options.
import { PrivateNatsCluster } from '@outbox-relay/test-support';
import { onCleanup, type Log } from '../../lib/cleanup';
import { openContext, type BenchContext } from '../lib/context';
import type { HaArgs } from './options';

export interface HaContext extends BenchContext {
  cluster: PrivateNatsCluster;
  args: HaArgs;
}

export async function openHaContext(log: Log, args: HaArgs): Promise<HaContext> {
  const started = performance.now();
  const cluster = await PrivateNatsCluster.start();
  // Registered first, so removed last: the run's streams and connections go before their servers.
  onCleanup('the private JetStream cluster', () => cluster.destroy());
  log(`private JetStream cluster of ${cluster.nodes.length} nats-servers up in ${((performance.now() - started) / 1000).toFixed(1)} s: ${cluster.urls}`);
  const ctx = await openContext(log, 'benchha', { quick: args.quick, events: args.events, repeats: 1 }, cluster.urls);
  return { ...ctx, cluster, args };
}
