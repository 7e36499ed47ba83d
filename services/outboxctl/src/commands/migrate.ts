import type { Command } from 'commander';
import { migrateOutbox } from '@outbox-relay/outbox';
import { migrateInbox } from '@outbox-relay/inbox';
import type { CommandContext } from '../context';
import { ExitCode } from '../errors';
import { json } from '../format';
import { integer } from './parsers';

export function registerMigrate(program: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  program
    .command('migrate')
    .description('create or upgrade the outbox tables (--schema) and the inbox tables (--inbox-schema)')
    .option('--partitions <n>', 'partition count to configure (writers wait while the relays drain the outbox); default: keep', integer(1, 1024))
    .option('--drain-timeout <ms>', 'give up a partition change, changing nothing, if the outbox has not drained by then', integer(1, 3_600_000), 30_000)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: { partitions?: number; drainTimeout: number; json?: boolean }) => {
      done(
        await ctx.withPool(async (pool, config) => {
          const outbox = await migrateOutbox({ pool, schema: config.schema, partitions: opts.partitions, drainTimeoutMs: opts.drainTimeout });
          const inbox = await migrateInbox({ pool, schema: config.inboxSchema });
          const result = {
            outbox: { schema: config.schema, ran: outbox.ran, partitions: outbox.partitions },
            inbox: { schema: config.inboxSchema, ran: inbox.ran },
          };
          const ran = (list: string[]) => (list.length === 0 ? 'up to date' : `ran ${list.join(', ')}`);
          ctx.out(
            opts.json
              ? json(result)
              : `outbox schema "${config.schema}": ${ran(outbox.ran)}; ${outbox.partitions} partition(s)\n` +
                  `inbox schema "${config.inboxSchema}": ${ran(inbox.ran)}\n`,
          );
          return ExitCode.ok;
        }),
      );
    });
}
