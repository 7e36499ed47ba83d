import type { Command } from 'commander';
import type { OutboxTables } from '@outbox-relay/outbox';
import type { Pool } from 'pg';
import type { CommandContext } from '../context';
import { awaitRelease, readLeases, requestStepDown, type LeaseState, type StepDownOutcome } from '../data/step-down';
import { tablesOf } from '../data/tables';
import { ExitCode, UsageError } from '../errors';
import { iso, json } from '../format';
import { integer, integerList } from './parsers';

interface StepDownOptions {
  partition?: number[];
  timeout: number;
  json?: boolean;
}

export function registerStepDown(program: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  program
    .command('step-down')
    .description(
      'graceful switchover: ask the current leader of each partition to release its lease, then wait until it has ' +
        'and a successor holds it (another relay at once; a lone relay re-acquires with a new epoch after one lease)',
    )
    .option('--partition <n>', 'only this partition (repeatable, or comma-separated); default: all', integerList(0, 1023))
    .option('--timeout <ms>', 'how long to wait for the leaders to let go and successors to take over', integer(1, 600_000), 5000)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: StepDownOptions) => {
      done(await ctx.withPool((pool, config) => stepDown(ctx, pool, tablesOf(config).outbox, opts)));
    });
}

async function stepDown(ctx: CommandContext, pool: Pool, t: OutboxTables, opts: StepDownOptions): Promise<ExitCode> {
  const leases = await readLeases(pool, t);
  const wanted = opts.partition ? [...new Set(opts.partition)].sort((a, b) => a - b) : leases.map((l) => l.partition);
  const unknown = wanted.filter((p) => !leases.some((l) => l.partition === p));
  if (unknown.length > 0) {
    throw new UsageError(
      '--partition',
      `--partition ${unknown.join(', ')}: no such partition (schema "${t.schema}" has partitions ` +
        `${leases.map((l) => l.partition).join(', ')})`,
    );
  }
  const requests = await requestStepDown(pool, t, wanted);
  const leaderless = leases.filter((l) => wanted.includes(l.partition) && !requests.some((r) => r.partition === l.partition));
  const outcomes = await awaitRelease(pool, t, requests, opts.timeout);
  const timedOut = outcomes.filter((o) => !o.released);
  if (opts.json) {
    ctx.out(
      json({
        partitions: [
          ...outcomes.map((o) => ({
            partition: o.request.partition,
            status: o.succeeded ? 'handed_over' : o.released ? 'released' : 'timed_out',
            before: { holder: o.request.holder, epoch: o.request.epoch },
            after: { holder: o.after.holder, epoch: o.after.epoch, live: o.after.live },
          })),
          ...leaderless.map((l) => ({ partition: l.partition, status: 'no_leader', before: { holder: l.holder, epoch: l.epoch }, after: null })),
        ].sort((a, b) => a.partition - b.partition),
      }),
    );
  } else {
    for (const l of leaderless) ctx.out(`${describeLeaderless(l)}\n`);
    for (const o of outcomes) (o.released ? ctx.out.bind(ctx) : ctx.err.bind(ctx))(`${describeOutcome(o, opts.timeout)}\n`);
  }
  return timedOut.length > 0 ? ExitCode.timedOut : ExitCode.ok;
}

function describeLeaderless(l: LeaseState): string {
  const why = l.holder === null ? 'not held' : `held by ${l.holder} until ${iso(l.expiresAt)} (expired)`;
  return `partition ${l.partition}: no live leader (epoch ${l.epoch}, ${why}); nothing to step down`;
}

function describeOutcome(o: StepDownOutcome, timeoutMs: number): string {
  const before = `${o.request.holder} (epoch ${o.request.epoch})`;
  if (!o.released) {
    return (
      `outboxctl: partition ${o.request.partition}: ${before} did not release its lease within ${timeoutMs} ms; ` +
      `the request stays recorded for epoch ${o.request.epoch} and is honoured at its next renewal`
    );
  }
  const after = o.succeeded
    ? `${o.after.holder} (epoch ${o.after.epoch})`
    : `released; no new leader within ${timeoutMs} ms`;
  return `partition ${o.request.partition}: ${before} → ${after}`;
}
