import type { Command } from 'commander';
import type { CommandContext } from '../context';
import { readDeadLetter, type DeadLetterDetail } from '../data/dead-letters';
import { tablesOf } from '../data/tables';
import { ExitCode } from '../errors';
import { parseDeadLetterId } from '../ids';
import { details, iso, json } from '../format';

export function registerDlqShow(dlq: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  dlq
    .command('show')
    .description('everything about one dead letter, payload and headers included')
    .argument('<id>', 'r<n> (relay) or c<n> (consumer)')
    .option('--json', 'print JSON for scripts')
    .action(async (id: string, opts: { json?: boolean }) => {
      const ref = parseDeadLetterId(id);
      done(
        await ctx.withPool(async (pool, config) => {
          const dl = await readDeadLetter(pool, tablesOf(config), ref);
          ctx.out(opts.json ? json(dl) : renderDetail(dl));
          return ExitCode.ok;
        }),
      );
    });
}

function renderDetail(d: DeadLetterDetail): string {
  const pairs: Array<[string, string]> = [
    ['id', d.id],
    ['source', d.kind === 'relay' ? 'relay (never published)' : `consumer ${d.consumer}`],
    ['status', d.status === 'open' ? 'open' : `${d.status} at ${iso(d.resolvedAt)}`],
    ...(d.resolutionNote ? [['note', d.resolutionNote] as [string, string]] : []),
    ['event id', d.eventId],
    ['event type', d.eventType],
    ['aggregate', d.aggregateId === null ? '-' : `${d.aggregateType ?? '?'}/${d.aggregateId}`],
  ];
  if (d.kind === 'relay') {
    pairs.push(['partition', String(d.partition)], ['seq', String(d.seq)], ['created at', iso(d.createdAt)], ['failed epoch', String(d.failedEpoch)]);
  } else {
    pairs.push(['subject', d.subject ?? '-'], ['stream seq', d.streamSeq ?? '-']);
  }
  pairs.push(['attempts', String(d.attempts)], ['failed at', iso(d.failedAt)], ['reason', d.reason]);
  pairs.push(['headers', JSON.stringify(d.headers)]);
  // The stored text, as it was (or would be) published: what a replay sends again.
  pairs.push(['payload', d.payloadParsed ? (d.payloadText ?? JSON.stringify(d.payload)) : `(not JSON) raw: ${d.rawPayload ?? ''}`]);
  return details(pairs);
}
