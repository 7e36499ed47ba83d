import { assertSchemaName } from '@outbox-relay/outbox';

/** Fully qualified names of the inbox objects in one schema (checked once, then interpolated). */
export interface InboxTables {
  schema: string;
  inbox: string;
  deadLetters: string;
  failures: string;
}

export function inboxTables(schema: string): InboxTables {
  assertSchemaName(schema, 'INBOX_SCHEMA');
  return {
    schema,
    inbox: `"${schema}".inbox`,
    deadLetters: `"${schema}".inbox_dead_letters`,
    failures: `"${schema}".inbox_failures`,
  };
}
