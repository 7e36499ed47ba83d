import type { Command } from 'commander';
import type { CommandContext } from '../context';
import type { ExitCode } from '../errors';
import { ID_FORMS } from '../ids';
import { registerDlqDiscard } from './dlq-discard';
import { registerDlqList } from './dlq-list';
import { registerDlqReplay } from './dlq-replay';
import { registerDlqShow } from './dlq-show';

export function registerDlq(program: Command, ctx: CommandContext, done: (code: ExitCode) => void): void {
  const dlq = program
    .command('dlq')
    .description('relay and consumer dead letters: list, show, replay, discard')
    .addHelpText('after', `\nDead-letter ids: ${ID_FORMS}.\n`);
  registerDlqList(dlq, ctx, done);
  registerDlqShow(dlq, ctx, done);
  registerDlqReplay(dlq, ctx, done);
  registerDlqDiscard(dlq, ctx, done);
}
