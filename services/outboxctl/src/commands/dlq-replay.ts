import { Option, type Command } from 'commander';
import type { CommandContext } from '../context';
import { replayDeadLetter, type DeadLetterReplay } from '../data/dead-letter-replay';
import { tablesOf, wakeRelays } from '../data/tables';
import type { ExitCode } from '../errors';
import { forEachDeadLetter, parseSelection } from './dead-letter-batch';

interface ReplayOptions {
  all?: boolean;
  relay?: boolean;
  consumer?: string;
  json?: boolean;
}

export function registerDlqReplay(dlq: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  dlq
    .command('replay')
    .description(
      'replay dead letters, each in one transaction: a relay dead letter goes back into the outbox under its ' +
        "original id; a consumer dead letter deletes that consumer's inbox row and enqueues a replay (new id, " +
        'replayOf = original id)',
    )
    .argument('[ids...]', 'r<n> (relay) or c<n> (consumer) dead-letter ids')
    .option('--all', 'every open dead letter (relay ones in their original order)')
    .addOption(new Option('--relay', 'with --all: only relay dead letters').conflicts('consumer'))
    .option('--consumer <name>', "with --all: only this consumer's dead letters")
    .option('--json', 'print JSON for scripts')
    .action(async (ids: string[], opts: ReplayOptions) => {
      const selection = parseSelection({ ids, ...opts });
      done(
        await ctx.withPool(async (pool, config) => {
          const t = tablesOf(config);
          const { code, outcomes } = await forEachDeadLetter(
            ctx,
            pool,
            t,
            selection,
            { json: opts.json === true, verb: 'replay', past: 'replayed' },
            (ref) => replayDeadLetter(pool, t, ref),
            describeReplay,
          );
          if (outcomes.some((o) => o.status === 'ok')) await wakeRelays(pool, t.outbox);
          return code;
        }),
      );
    });
}

export function describeReplay(r: DeadLetterReplay): string {
  const what = `${r.aggregateType}/${r.aggregateId} ${r.eventType}`;
  const where = `partition ${r.partition}, seq ${r.seq}`;
  if (r.kind === 'relay') {
    return `${r.id}: replayed: event ${r.eventId} (${what}) is back in the outbox under its original id (${where})`;
  }
  const deleted = r.inboxRowDeleted ? `deleted its inbox row${r.failureCounterDeleted ? ' and failure counter' : ''}` : 'it had no inbox row';
  return (
    `${r.id}: replayed for consumer "${r.consumer}": ${deleted} for event ${r.eventId}; ` +
    `enqueued replay ${r.enqueuedId} (${what}, ${where}) with replayOf ${r.eventId}`
  );
}
