import { Option, type Command } from 'commander';
import type { CommandContext } from '../context';
import { listDeadLetters, type DeadLetterList, type DeadLetterSummary } from '../data/dead-letters';
import { tablesOf } from '../data/tables';
import { ExitCode } from '../errors';
import { iso, json, table, truncate, type Column } from '../format';
import { integer } from './parsers';

interface ListOptions {
  relay?: boolean;
  consumer?: string;
  all?: boolean;
  limit: number;
  json?: boolean;
}

export function registerDlqList(dlq: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  dlq
    .command('list')
    .description('list open dead letters (relay and consumer)')
    .addOption(new Option('--relay', 'only relay dead letters (events the relay could not publish)').conflicts('consumer'))
    .option('--consumer <name>', "only this consumer's dead letters")
    .option('--all', 'include resolved (replayed or discarded) dead letters')
    .option('--limit <n>', 'show at most n', integer(1, 100_000), 200)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: ListOptions) => {
      done(
        await ctx.withPool(async (pool, config) => {
          const list = await listDeadLetters(pool, tablesOf(config), {
            kind: opts.relay ? 'relay' : undefined,
            consumer: opts.consumer,
            includeResolved: opts.all === true,
            limit: opts.limit,
          });
          ctx.out(opts.json ? json(list) : renderList(list, config.inboxSchema));
          return ExitCode.ok;
        }),
      );
    });
}

const columns: Array<Column<DeadLetterSummary>> = [
  { header: 'ID', value: (d) => d.id },
  { header: 'SOURCE', value: (d) => (d.kind === 'relay' ? 'relay' : `consumer ${d.consumer}`) },
  { header: 'EVENT', value: (d) => d.eventId },
  { header: 'TYPE', value: (d) => d.eventType },
  { header: 'AGGREGATE', value: (d) => (d.aggregateId === null ? '-' : `${d.aggregateType ?? '?'}/${d.aggregateId}`) },
  { header: 'ATTEMPTS', value: (d) => String(d.attempts), right: true },
  { header: 'FAILED AT', value: (d) => iso(d.failedAt) },
  { header: 'STATUS', value: (d) => (d.status === 'open' ? 'open' : `${d.status} ${iso(d.resolvedAt)}`) },
  { header: 'REASON', value: (d) => truncate(d.reason, 60) },
];

function renderList(list: DeadLetterList, inboxSchema: string): string {
  let text = list.deadLetters.length === 0 ? 'no dead letters\n' : table(columns, list.deadLetters);
  if (list.truncated) text += `(more dead letters match; raise --limit to see them)\n`;
  if (!list.inboxMigrated) text += `(consumer dead letters not listed: no inbox tables in schema "${inboxSchema}")\n`;
  return text;
}
