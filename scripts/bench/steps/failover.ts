// (6) Failover with 3 stand-alone relay processes on one outbox (product defaults: lease 2000 ms, renew 500 ms).
//   SIGKILL of the leader:        the lease must expire; a follower takes it at its next retry.
//   POST /step-down to the leader: it releases the lease and NOTIFYs; a follower takes it at once.
//   SIGTERM of the leader:         graceful stop, which releases the lease the same way.
// Hand-over time = the successor's acquired_at (database clock) minus the moment this process acted. Then a
// probe event committed right after the action must reach the stream: "publishing resumed" is its stored time
// minus the action time (includes the successor's first read and publish).
import { randomBytes, randomUUID } from 'node:crypto';
import { ensureStream, migrateOutbox, Outbox } from '@outbox-relay/outbox';
import { waitFor } from '@outbox-relay/test-support';
import type { BenchContext } from '../lib/context';
import { dropSchemaLater, schemaName, streamFor, type RunStream } from '../lib/resources';
import { leaseOf, startRelayProcess, type Lease, type RelayProcess } from '../lib/services';
import { sleep } from '../lib/stats';

const LEASE_MS = 2000;

interface HandOver {
  takeoverMs: number;
  resumedMs: number;
  leader: RelayProcess;
}

export interface HandOverFigures {
  takeoverMs: number;
  resumedMs: number;
  samples: number;
}

export interface FailoverFigures {
  leaseMs: number;
  kill: HandOverFigures;
  stepDown: HandOverFigures;
  sigterm: HandOverFigures;
}

async function currentLeader(ctx: BenchContext, schema: string, relays: RelayProcess[]): Promise<{ leader: RelayProcess; lease: Lease }> {
  return waitFor('a relay to lead', async () => {
    const lease = await leaseOf(ctx, schema);
    const leader = lease.valid ? relays.find((r) => r.instanceId === lease.holder && r.proc.alive()) : undefined;
    return leader ? { leader, lease } : undefined;
  }, 15_000, 10);
}

async function probe(ctx: BenchContext, outbox: Outbox, stream: RunStream, actedAt: number): Promise<number> {
  const id = randomUUID();
  await outbox.transaction((tx) =>
    outbox.enqueue(tx, { id, aggregateType: 'Probe', aggregateId: id, eventType: 'Failover', payload: { actedAt } }),
  );
  const subject = `${stream.subjectPrefix}.Probe.Failover`;
  const stored = await waitFor('the probe event in the stream', async () => {
    const m = await ctx.jsm.streams.getMessage(stream.stream, { last_by_subj: subject }).catch(() => null);
    return m && m.header.get('Nats-Msg-Id') === id ? m : undefined;
  }, 15_000, 5);
  return stored.time.getTime() - actedAt;
}

async function measure(ctx: BenchContext, schema: string, relays: RelayProcess[], outbox: Outbox, stream: RunStream, kind: string, act: (leader: RelayProcess) => Promise<void>): Promise<HandOver> {
  const { leader, lease } = await currentLeader(ctx, schema, relays);
  const actedAt = Date.now();
  await act(leader);
  const resumedMs = await probe(ctx, outbox, stream, actedAt);
  const next = await waitFor('a successor', async () => {
    const l = await leaseOf(ctx, schema);
    return l.valid && l.epoch > lease.epoch && l.holder !== leader.instanceId ? l : undefined;
  }, 15_000, 5);
  const takeoverMs = next.acquired_ms - actedAt;
  ctx.log(`  ${kind}: ${leader.name} (epoch ${lease.epoch}) → ${next.holder?.replace(`${ctx.tag}-`, '')} (epoch ${next.epoch}) in ${takeoverMs.toFixed(0)} ms; publishing resumed after ${resumedMs} ms`);
  return { takeoverMs, resumedMs, leader };
}

export async function failover(ctx: BenchContext): Promise<FailoverFigures> {
  const schema = schemaName(ctx, 'failover');
  dropSchemaLater(ctx, schema);
  await migrateOutbox({ pool: ctx.pool, schema });
  const stream = streamFor(ctx, 'failover');
  await ensureStream(ctx.jsm, { name: stream.stream, subjectPrefix: stream.subjectPrefix, duplicateWindowMs: 120_000 });
  const outbox = new Outbox({ pool: ctx.pool, schema });
  // POST /step-down takes the relays' admin token (closed without one).
  const adminToken = randomBytes(32).toString('base64url');
  const env = { OUTBOX_LEASE_MS: String(LEASE_MS), OUTBOX_RENEW_MS: '500', OUTBOX_ADMIN_TOKEN: adminToken };
  const start = (name: string) => startRelayProcess(ctx, name, { schema, stream, env });
  const relays = await Promise.all(['relay-a', 'relay-b', 'relay-c'].map(start));
  const repeats = ctx.quick ? 1 : 3;
  const results: Record<'kill' | 'stepDown' | 'sigterm', HandOver[]> = { kill: [], stepDown: [], sigterm: [] };

  for (let i = 0; i < repeats; i++) {
    const r = await measure(ctx, schema, relays, outbox, stream, 'SIGKILL', async (leader) => void leader.proc.child.kill('SIGKILL'));
    results.kill.push(r);
    // Back to three candidates: the killed one restarts under a new instance id (a restarted process is a new holder).
    await r.leader.proc.exited;
    await r.leader.proc.remove();
    relays.splice(relays.indexOf(r.leader), 1, await start(`${r.leader.name.split('#')[0]}#${i + 2}`));
  }
  for (let i = 0; i < repeats; i++) {
    const r = await measure(ctx, schema, relays, outbox, stream, 'POST /step-down', async (leader) => {
      const res = await fetch(`${leader.url}/step-down`, { method: 'POST', headers: { Authorization: `Bearer ${adminToken}` } });
      if (res.status !== 202) throw new Error(`POST /step-down answered ${res.status}: ${await res.text()}`);
    });
    results.stepDown.push(r);
    // The one that stepped down campaigns again only after a lease; let it, so every round has two candidates.
    await sleep(LEASE_MS + 500);
  }
  const r = await measure(ctx, schema, relays, outbox, stream, 'SIGTERM', async (leader) => void leader.proc.child.kill('SIGTERM'));
  results.sigterm.push(r);
  const code = await r.leader.proc.exited;
  if (code !== 0) throw new Error(`the relay stopped with SIGTERM exited with ${code ?? r.leader.proc.child.signalCode}; see ${r.leader.proc.logFile}`);

  for (const relay of relays) await relay.proc.remove();
  await outbox.close();
  const worst = (list: HandOver[], key: 'takeoverMs' | 'resumedMs') => Math.max(...list.map((x) => x[key]));
  return {
    leaseMs: LEASE_MS,
    kill: { takeoverMs: worst(results.kill, 'takeoverMs'), resumedMs: worst(results.kill, 'resumedMs'), samples: results.kill.length },
    stepDown: { takeoverMs: worst(results.stepDown, 'takeoverMs'), resumedMs: worst(results.stepDown, 'resumedMs'), samples: results.stepDown.length },
    sigterm: { takeoverMs: worst(results.sigterm, 'takeoverMs'), resumedMs: worst(results.sigterm, 'resumedMs'), samples: 1 },
  };
}
