import type { Command } from 'commander';
import type { CommandContext } from '../context';
import { replayAggregate, type AggregateReplay } from '../data/aggregate-replay';
import { tablesOf, wakeRelays } from '../data/tables';
import { ExitCode, UsageError } from '../errors';
import { iso, json, table } from '../format';
import { isoTime } from './parsers';

interface ReplayOptions {
  aggregate?: string;
  aggregateType?: string;
  since?: Date;
  dryRun?: boolean;
  json?: boolean;
}

export function registerReplay(program: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  program
    .command('replay')
    .description(
      "re-publish an aggregate's already published events (still in the outbox) for a consumer that lost its state: " +
        'each goes back in as a new outbox row (new id) with replayOf = the original id, in the original order',
    )
    .option('--aggregate <id>', 'aggregate id (required)')
    .option('--aggregate-type <type>', 'only events of this aggregate type')
    .option('--since <time>', 'only events written at or after this ISO 8601 time (e.g. 2026-11-23T16:00:00Z)', isoTime)
    .option('--dry-run', 'show what would be replayed; change nothing')
    .option('--json', 'print JSON for scripts')
    .action(async (opts: ReplayOptions) => {
      if (!opts.aggregate) throw new UsageError('--aggregate', "required option '--aggregate <id>' not specified");
      const aggregateId = opts.aggregate;
      done(
        await ctx.withPool(async (pool, config) => {
          const t = tablesOf(config);
          const result = await replayAggregate(pool, t, {
            aggregateId,
            aggregateType: opts.aggregateType,
            since: opts.since,
            dryRun: opts.dryRun === true,
          });
          if (!result.dryRun) await wakeRelays(pool, t.outbox);
          ctx.out(opts.json ? json(result) : renderReplay(result));
          return ExitCode.ok;
        }),
      );
    });
}

function renderReplay(r: AggregateReplay): string {
  const rows = table(
    [
      { header: 'ORIGINAL SEQ', value: (e) => e.originalSeq, right: true },
      { header: 'ORIGINAL ID', value: (e) => e.originalId },
      { header: 'EVENT', value: (e) => `${e.aggregateType}/${e.aggregateId} ${e.eventType}` },
      { header: 'WRITTEN AT', value: (e) => iso(e.createdAt) },
      { header: 'REPLAY ID', value: (e) => e.replayId ?? '(dry run)' },
      { header: 'REPLAY SEQ', value: (e) => e.replaySeq ?? '-', right: true },
    ],
    r.events,
  );
  const summary = r.dryRun
    ? `dry run: would replay ${r.events.length} event(s); nothing changed\n`
    : `replayed ${r.events.length} event(s): enqueued with new ids and replayOf = original id\n`;
  return rows + summary;
}
