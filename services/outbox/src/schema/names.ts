import { ConfigError, SQL_IDENTIFIER } from '@outbox-relay/runtime';

/**
 * SQL identifiers cannot be bound as parameters, so the schema name is checked once here and then
 * interpolated; anything outside this pattern is refused rather than quoted.
 */
export function assertSchemaName(schema: string, variable = 'schema'): string {
  if (!SQL_IDENTIFIER.test(schema)) {
    throw new ConfigError([{ path: variable, message: `"${schema}" must match ${SQL_IDENTIFIER.source}` }]);
  }
  return schema;
}

/** Fully qualified names of the outbox objects in one schema. */
export interface OutboxTables {
  schema: string;
  outbox: string;
  /** The view of the events not published yet: how every reader outside the relay's read and mark asks (migration 1733800000000). */
  pendingEvents: string;
  /** The view of the published events, with published_at and published_epoch (migration 1733800000000). */
  publishedEvents: string;
  partitions: string;
  settings: string;
  deadLetters: string;
  members: string;
  /** One row per mark: who published which events, and when (migration 1733900000000). */
  marks: string;
  /** The call that gives the server's WAL timeline, which lease rows record (migration 1733500000000). */
  walTimeline: string;
  /** LISTEN/NOTIFY channel that wakes relays (new events, released leases, joined members, step-down requests). */
  channel: string;
  /** First key of the transaction advisory locks that serialize writers of one aggregate. */
  lockSpace: number;
}

export function outboxTables(schema: string): OutboxTables {
  assertSchemaName(schema);
  return {
    schema,
    outbox: `"${schema}".outbox`,
    pendingEvents: `"${schema}".outbox_pending`,
    publishedEvents: `"${schema}".outbox_published`,
    partitions: `"${schema}".outbox_partitions`,
    settings: `"${schema}".outbox_settings`,
    deadLetters: `"${schema}".outbox_dead_letters`,
    members: `"${schema}".outbox_members`,
    marks: `"${schema}".outbox_marks`,
    walTimeline: `"${schema}".outbox_wal_timeline()`,
    channel: `${schema}_outbox`,
    lockSpace: fnv1a32(`outbox:${schema}`) | 0,
  };
}

/** 32-bit FNV-1a; stable across processes and versions (unlike a seeded runtime hash). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
