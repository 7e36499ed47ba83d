// HA (drain): a relay process (product defaults, its stream created by itself with OUTBOX_STREAM_REPLICAS) drains a
// backlog written while no relay ran, into an R3 stream and into an R1 stream of the same cluster; filled, drained,
// timed and checked by lib/backlog.ts. Set against the raw loops to R3 of the same run: what replication costs the
// relay, and whether it still reaches the cluster's own limit.
import { drainBacklog, type DrainFigures } from '../lib/backlog';
import { ratioRow } from '../lib/report-rows';
import { fmtInt } from '../lib/stats';
import type { Row } from '../lib/report';
import type { HaStep } from './step';

export interface RelayDrainReplicasFigures {
  r3: DrainFigures;
  r1: DrainFigures;
}

export const relayDrainReplicasStep: HaStep = {
  name: 'drain',
  title: 'relay drain of a backlog into an R3 and an R1 stream',
  async run(ctx, results) {
    const r3 = await drainBacklog(ctx, 'ha_drain_r3', { events: ctx.args.events }, { OUTBOX_STREAM_REPLICAS: '3' });
    const r1 = await drainBacklog(ctx, 'ha_drain_r1', { events: ctx.args.events }, { OUTBOX_STREAM_REPLICAS: '1' });
    results.drain = { r3, r1 };
  },
  rows: ({ drain, raw }) => {
    if (!drain || !raw) return [];
    const n = fmtInt(drain.r3.events);
    const rows: Row[] = [];
    for (const [label, figures] of [['R3', drain.r3], ['R1', drain.r1]] as const) {
      rows.push(ratioRow(`(4) relay drain of ${n} events, ${label} stream, vs (2) to R3`, figures.rate, 'events/s', raw.request, 'msg/s', 0.9));
      rows.push(ratioRow(`(4b) relay drain of ${n} events, ${label} stream, vs (2b) to R3`, figures.rate, 'events/s', raw.collector, 'msg/s', 0.8));
    }
    rows.push({
      measure: 'relay drain, R3 against R1 on the same cluster (what three replicas cost)',
      figure: `${fmtInt(drain.r3.rate)} / ${fmtInt(drain.r1.rate)} events/s`,
      limit: '',
      ratio: (drain.r3.rate / drain.r1.rate).toFixed(2),
      target: '(info)',
      result: '',
    });
    return rows;
  },
};
