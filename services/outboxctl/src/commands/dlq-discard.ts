import type { Command } from 'commander';
import type { CommandContext } from '../context';
import { discardDeadLetter, type DeadLetterDiscard } from '../data/dead-letter-discard';
import { tablesOf } from '../data/tables';
import type { ExitCode } from '../errors';
import { iso } from '../format';
import { forEachDeadLetter, parseSelection } from './dead-letter-batch';

interface DiscardOptions {
  reason?: string;
  json?: boolean;
}

export function registerDlqDiscard(dlq: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  dlq
    .command('discard')
    .description('give dead letters up for good: resolved as discarded, nothing is published')
    .argument('<ids...>', 'r<n> (relay) or c<n> (consumer) dead-letter ids')
    .option('--reason <text>', 'why (saved with each dead letter as its resolution note)')
    .option('--json', 'print JSON for scripts')
    .action(async (ids: string[], opts: DiscardOptions) => {
      const selection = parseSelection({ ids });
      const why = opts.reason ? ` (reason: ${opts.reason})` : '';
      done(
        await ctx.withPool(async (pool, config) => {
          const t = tablesOf(config);
          const { code } = await forEachDeadLetter(
            ctx,
            pool,
            t,
            selection,
            { json: opts.json === true, verb: 'discard', past: 'discarded' },
            async (ref) => ({ ...(await discardDeadLetter(pool, t, ref, opts.reason ?? null)), reason: opts.reason ?? null }),
            (d: DeadLetterDiscard) => `${d.id}: discarded event ${d.eventId} at ${iso(d.resolvedAt)}${why}`,
          );
          return code;
        }),
      );
    });
}
