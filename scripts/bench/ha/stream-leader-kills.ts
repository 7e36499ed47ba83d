// HA (kill): the publishing stall per fault of the stream's leader while events are written at --rate: --kills times
// a kill -9 of the leader (restarted once healthy elsewhere), then once a graceful stop of it (SIGTERM, as a rolling
// update stops a server). The relay is a process with the product's defaults (lease 2 s, publish timeout 5 s).
// Per fault: "leader elected", when a running server first says it leads the stream (its /jsz, polled every 20 ms),
// and "publishing resumed", a probe event committed right after the fault: its time in the stream minus the fault's
// (as steps/failover.ts times a hand-over). At the end every event written is in
// the stream exactly once (its message count) and none is pending.
import { randomUUID } from 'node:crypto';
import { ensureStream, migrateOutbox, Outbox } from '@outbox-relay/outbox';
import { getJson, waitFor } from '@outbox-relay/test-support';
import type { Row } from '../lib/report';
import { dropSchemaLater, pendingCount, schemaName, streamFor, type RunStream } from '../lib/resources';
import { startRelayProcess } from '../lib/services';
import { fmtInt, fmtMs, wallMs } from '../lib/stats';
import type { HaContext } from './context';
import { startPacedWrites } from './paced-writes';
import type { HaStep } from './step';

/** DESIGN.md: publishing resumed at most this long after NATS is back (here: after the cluster elected a leader). */
const RESUMED_AFTER_ELECTION_MS = 1000;

export interface StreamLeaderFault {
  kind: 'kill -9' | 'SIGTERM';
  node: number;
  electedMs: number;
  resumedMs: number;
}

export interface StreamLeaderFaultFigures {
  faults: StreamLeaderFault[];
  rate: number;
  events: number;
}

/** A probe event committed now; resolves with its time in the stream (ms since the epoch). */
async function probeStoredAt(ctx: HaContext, outbox: Outbox, stream: RunStream): Promise<number> {
  const id = randomUUID();
  await outbox.transaction((tx) => outbox.enqueue(tx, { id, aggregateType: 'Probe', aggregateId: id, eventType: 'LeaderFault', payload: {} }));
  const subject = `${stream.subjectPrefix}.Probe.LeaderFault`;
  const stored = await waitFor('the probe event in the stream', async () => {
    const m = await ctx.jsm.streams.getMessage(stream.stream, { last_by_subj: subject }).catch(() => null);
    return m && m.header.get('Nats-Msg-Id') === id ? m : undefined;
  }, 120_000, 10);
  return stored.time.getTime();
}

async function fault(ctx: HaContext, outbox: Outbox, stream: RunStream, kind: StreamLeaderFault['kind']): Promise<StreamLeaderFault> {
  const { cluster } = ctx;
  await cluster.waitForStreamCurrent(stream.stream);
  const node = await cluster.waitForStreamLeader(stream.stream);
  const at = wallMs();
  if (kind === 'kill -9') await cluster.kill(node);
  else await cluster.stop(node);
  const elected = cluster.waitForStreamLeader(stream.stream, node, 120_000).then(() => wallMs() - at);
  const resumedMs = (await probeStoredAt(ctx, outbox, stream)) - at;
  const result = { kind, node, electedMs: await elected, resumedMs };
  ctx.log(`  ${kind} of the stream leader (node ${node}): leader elected after ${fmtInt(result.electedMs)} ms, publishing resumed after ${fmtInt(resumedMs)} ms`);
  await cluster.restart(node, 120_000);
  return result;
}

export const streamLeaderKillStep: HaStep = {
  name: 'kill',
  title: 'publishing stall per kill -9 (and per graceful stop) of the stream leader under steady writes',
  async run(ctx, results) {
    const schema = schemaName(ctx, 'ha_kill');
    dropSchemaLater(ctx, schema);
    await migrateOutbox({ pool: ctx.pool, schema });
    const stream = streamFor(ctx, 'ha_kill');
    await ensureStream(ctx.jsm, { name: stream.stream, subjectPrefix: stream.subjectPrefix, duplicateWindowMs: 120_000, limits: { replicas: 3 } });
    const relay = await startRelayProcess(ctx, 'relay-ha-kill', { schema, stream, env: { OUTBOX_STREAM_REPLICAS: '3' } });
    await waitFor('the relay to lead', async () => (await getJson<{ leading?: boolean }>(`${relay.url}/status`, 30_000))?.leading ?? false, 30_000);
    const outbox = new Outbox({ pool: ctx.pool, schema });
    const writes = startPacedWrites(ctx, schema, ctx.args.rate);
    const faults: StreamLeaderFault[] = [];
    try {
      for (let k = 0; k < ctx.args.kills; k++) faults.push(await fault(ctx, outbox, stream, 'kill -9'));
      faults.push(await fault(ctx, outbox, stream, 'SIGTERM'));
    } finally {
      await writes.stop();
      await outbox.close();
    }
    await waitFor('every event published', async () => (await pendingCount(ctx, schema)) === 0 || undefined, 120_000, 100);
    const { rows } = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
    const stored = (await ctx.jsm.streams.info(stream.stream)).state.messages;
    await relay.proc.remove();
    await stream.remove();
    if (stored !== rows[0]!.n) throw new Error(`events lost or duplicated: ${rows[0]!.n} committed, ${stored} in the stream`);
    ctx.log(`  ${fmtInt(stored)} events committed during the faults, each in the stream once, none pending`);
    results.kill = { faults, rate: ctx.args.rate, events: stored };
  },
  rows: ({ kill }) => {
    if (!kill) return [];
    return kill.faults.map((f, i): Row => {
      const late = f.resumedMs - f.electedMs;
      return {
        measure: `(6) ${f.kind} of the stream leader${f.kind === 'kill -9' ? ` #${i + 1}` : ' (rolling update)'} at ${fmtInt(kill.rate)} events/s: publishing resumed`,
        figure: `${fmtInt(f.resumedMs)} ms`,
        limit: `leader elected ${fmtInt(f.electedMs)} ms`,
        ratio: `${late >= 0 ? '+' : ''}${fmtMs(late)} ms`,
        target: `≤ election + ${RESUMED_AFTER_ELECTION_MS} ms`,
        result: late <= RESUMED_AFTER_ELECTION_MS ? 'PASS' : 'MISS',
      };
    });
  },
};
