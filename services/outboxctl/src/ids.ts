import { UsageError } from './errors';

/** Relay dead letters live in the outbox schema, consumer dead letters in the inbox schema. */
export type DeadLetterKind = 'relay' | 'consumer';

/**
 * A dead letter as named on the command line. Both tables number their rows from 1, so the kind prefix
 * (`r` relay, `c` consumer) is part of the id: `r7` and `c7` are different dead letters.
 */
export interface DeadLetterRef {
  kind: DeadLetterKind;
  /** The table's bigint id, as text. */
  id: string;
}

const PREFIX: Record<DeadLetterKind, string> = { relay: 'r', consumer: 'c' };
const FORM = /^([rc])([1-9][0-9]{0,18})$/;
export const ID_FORMS = 'r<n> for a relay dead letter or c<n> for a consumer dead letter (e.g. r12, c3)';

export function formatDeadLetterId(ref: DeadLetterRef): string {
  return `${PREFIX[ref.kind]}${ref.id}`;
}

export function parseDeadLetterId(text: string): DeadLetterRef {
  const match = FORM.exec(text.trim());
  if (!match) {
    const hint = /^[0-9]+$/.test(text.trim()) ? ' (a bare number is ambiguous)' : '';
    throw new UsageError('<id>', `invalid dead-letter id "${text}"${hint}: expected ${ID_FORMS}`);
  }
  return { kind: match[1] === 'r' ? 'relay' : 'consumer', id: match[2]! };
}

/** Parses every id; repeated ids are dropped so one dead letter is never handled twice in one run. */
export function parseDeadLetterIds(texts: readonly string[]): DeadLetterRef[] {
  const seen = new Set<string>();
  const refs: DeadLetterRef[] = [];
  for (const text of texts) {
    const ref = parseDeadLetterId(text);
    const key = formatDeadLetterId(ref);
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push(ref);
  }
  return refs;
}
