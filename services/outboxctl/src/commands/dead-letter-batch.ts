import type { Pool } from 'pg';
import type { CommandContext } from '../context';
import { assertDeadLettersExist, openDeadLetterRefs } from '../data/dead-letters';
import type { Tables } from '../data/tables';
import { CliError, ExitCode, UsageError } from '../errors';
import { formatDeadLetterId, parseDeadLetterIds, type DeadLetterRef } from '../ids';
import { json } from '../format';

export interface Selection {
  ids: string[];
  all?: boolean;
  relay?: boolean;
  consumer?: string;
}

/** Turns `<id…>` or `--all [--relay|--consumer <name>]` into dead-letter refs; usage errors before any I/O. */
export function parseSelection(selection: Selection): { refs: DeadLetterRef[] } | { all: { kind?: 'relay'; consumer?: string } } {
  const filtered = selection.relay === true || selection.consumer !== undefined;
  if (selection.all) {
    if (selection.ids.length > 0) throw new UsageError('--all', 'give dead-letter ids or --all, not both');
    return { all: { kind: selection.relay ? 'relay' : undefined, consumer: selection.consumer } };
  }
  if (filtered) throw new UsageError(selection.relay ? '--relay' : '--consumer', '--relay and --consumer only apply with --all');
  if (selection.ids.length === 0) throw new UsageError('<id>', 'give one or more dead-letter ids (r<n>, c<n>) or --all');
  return { refs: parseDeadLetterIds(selection.ids) };
}

export type Outcome<T> = { id: string; status: 'ok'; result: T } | { id: string; status: 'failed'; error: string; exitCode: number };

/**
 * Applies `action` to each dead letter in its own transaction, reporting each one. Every named id must exist
 * before anything changes (exit 3 otherwise). A dead letter that cannot be handled is reported and skipped; the
 * run then exits with that failure's code. Errors other than the CLI's own (the database is gone) stop the run.
 */
export async function forEachDeadLetter<T>(
  ctx: CommandContext,
  pool: Pool,
  t: Tables,
  selection: ReturnType<typeof parseSelection>,
  options: { json: boolean; verb: string; past: string },
  action: (ref: DeadLetterRef) => Promise<T>,
  describe: (result: T) => string,
): Promise<{ code: ExitCode; outcomes: Array<Outcome<T>> }> {
  let refs: DeadLetterRef[];
  if ('refs' in selection) {
    refs = selection.refs;
    await assertDeadLettersExist(pool, t, refs);
  } else {
    refs = await openDeadLetterRefs(pool, t, selection.all);
    if (refs.length === 0 && !options.json) ctx.out(`no open dead letters to ${options.verb}\n`);
  }
  const outcomes: Array<Outcome<T>> = [];
  let code: ExitCode = ExitCode.ok;
  for (const ref of refs) {
    const id = formatDeadLetterId(ref);
    try {
      const result = await action(ref);
      outcomes.push({ id, status: 'ok', result });
      if (!options.json) ctx.out(`${describe(result)}\n`);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      outcomes.push({ id, status: 'failed', error: error.message, exitCode: error.exitCode });
      if (!options.json) ctx.err(`outboxctl: ${error.message}\n`);
      code = Math.max(code, error.exitCode) as ExitCode;
    }
  }
  if (options.json) ctx.out(json({ results: outcomes }));
  else if (refs.length > 1) {
    const ok = outcomes.filter((o) => o.status === 'ok').length;
    ctx.out(`${options.past}: ${ok} of ${refs.length} dead letters\n`);
  }
  return { code, outcomes };
}
