import type { Command } from 'commander';
import type { CommandContext } from '../context';
import { readStatus, type OutboxStatus, type PartitionState } from '../data/status';
import { tablesOf } from '../data/tables';
import { ExitCode } from '../errors';
import { duration, iso, json, table, type Column } from '../format';

export function registerStatus(program: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  program
    .command('status')
    .description('leases, backlog and progress per partition, and open dead letters')
    .option('--json', 'print JSON for scripts')
    .action(async (opts: { json?: boolean }) => {
      done(
        await ctx.withPool(async (pool, config) => {
          const status = await readStatus(pool, tablesOf(config));
          ctx.out(opts.json ? json(status) : renderStatus(status));
          return ExitCode.ok;
        }),
      );
    });
}

const columns: Array<Column<PartitionState>> = [
  { header: 'PARTITION', value: (p) => String(p.partition), right: true },
  { header: 'LEADER', value: (p) => (p.holder === null ? '-' : p.leaseExpired ? `${p.holder} (expired)` : p.holder) },
  { header: 'EPOCH', value: (p) => String(p.epoch), right: true },
  { header: 'LEASE EXPIRES', value: (p) => iso(p.leaseExpiresAt) + (p.stepDownPending ? ' (step-down requested)' : '') },
  { header: 'PENDING', value: (p) => String(p.pending), right: true },
  { header: 'OLDEST PENDING', value: (p) => duration(p.oldestPendingAgeMs), right: true },
  { header: 'LAST PUBLISHED', value: (p) => (p.lastPublished ? `${p.lastPublished.id} seq ${p.lastPublished.seq}` : '-') },
  { header: 'PUBLISHED AT', value: (p) => iso(p.lastPublished?.at) },
  { header: 'PUBLISHED', value: (p) => String(p.publishedTotal), right: true },
];

export function renderStatus(status: OutboxStatus): string {
  const dl = status.openDeadLetters;
  const consumer =
    dl.consumer === null
      ? `not available (no inbox tables in schema "${status.inboxSchema}")`
      : `${dl.consumer.total}` +
        (Object.keys(dl.consumer.byConsumer).length > 0
          ? ` (${Object.entries(dl.consumer.byConsumer).map(([name, n]) => `${name}: ${n}`).join(', ')})`
          : '');
  return (
    `outbox schema "${status.schema}" at ${iso(status.at)} (database clock)\n\n` +
    table(columns, status.partitions) +
    `\nopen dead letters: relay ${dl.relay}, consumer ${consumer}\n`
  );
}
