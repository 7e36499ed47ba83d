import type { FieldIssue } from '@outbox-relay/runtime';

/**
 * Typed errors of the outbox library. Each carries the context an operator needs to act on it
 * (the bad field, the partition and epoch, the event id) as fields, not only inside the message.
 * Configuration errors are the runtime's `ConfigError`, re-exported here because the library's settings throw it.
 */
export { ConfigError, type FieldIssue } from '@outbox-relay/runtime';
export class OutboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An event handed to `enqueue` is invalid. Nothing was written. */
export class EventValidationError extends OutboxError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super(`invalid outbox event: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.issues = issues;
  }
  /** The offending field paths, e.g. `["aggregateId"]`. */
  get fields(): string[] {
    return this.issues.map((i) => i.path);
  }
}

/** An event's serialized payload and headers exceed the configured limit (kept below NATS max_payload). */
export class PayloadTooLargeError extends EventValidationError {
  readonly eventId: string;
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(path: string, eventId: string, sizeBytes: number, limitBytes: number) {
    super([{ path, message: `serialized size ${sizeBytes} bytes exceeds the limit of ${limitBytes} bytes` }]);
    this.eventId = eventId;
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/**
 * This process no longer holds the lease of `partition` at `epoch`: another relay took it over (or it expired).
 * Whatever the caller was about to do under that epoch must not happen.
 */
export class LeaseLostError extends OutboxError {
  readonly partition: number;
  readonly epoch: number;
  constructor(partition: number, epoch: number, reason: string) {
    super(`lease of partition ${partition} at epoch ${epoch} lost: ${reason}`);
    this.partition = partition;
    this.epoch = epoch;
  }
}

/** The outbox schema is not migrated, or was configured for a different partition count. */
export class SchemaError extends OutboxError {
  readonly schema: string;
  constructor(schema: string, message: string, options?: { cause?: unknown }) {
    super(`outbox schema "${schema}": ${message}`, options);
    this.schema = schema;
  }
}

/**
 * The command that creates or upgrades the outbox tables of `schema`: this package's own bin (`outbox-migrate`,
 * package.json "bin"), which reads the schema from OUTBOX_SCHEMA. Every message that tells an operator to migrate
 * names it from here, so none can name a command that does not exist.
 */
export function outboxMigrateCommand(schema: string): string {
  return `OUTBOX_SCHEMA=${schema} outbox-migrate`;
}

/**
 * The outbox tables of `schema` are missing, or lack migrations this version needs: running the migrations fixes
 * it. `problem` says which, `command` what to run (tools with a migrate command of their own, such as outboxctl,
 * name theirs instead).
 */
export class SchemaNotMigratedError extends SchemaError {
  readonly problem: string;
  readonly command: string;
  constructor(schema: string, problem: string, options?: { cause?: unknown }) {
    const command = outboxMigrateCommand(schema);
    super(schema, `${problem}; run \`${command}\``, options);
    this.problem = problem;
    this.command = command;
  }
}

/** DATABASE_URL (or the URL handed to `PostgresPrimary`) cannot be used; `problem` says why, without echoing the URL (it may hold a password). */
export class DatabaseUrlError extends OutboxError {
  readonly problem: string;
  constructor(problem: string) {
    super(`DATABASE_URL ${problem}`);
    this.problem = problem;
  }
}

/**
 * A server of the host list answered but is not one this process may write to: a standby (in recovery), a server
 * whose transactions are read-only, or an old primary that came back on an earlier timeline than one already seen.
 */
export class NotPrimaryError extends OutboxError {
  readonly host: string;
  readonly reason: string;
  constructor(host: string, reason: string) {
    super(`${host} is not the primary: ${reason}`);
    this.host = host;
    this.reason = reason;
  }
}

/** No server of the host list could be used; `attempts` says what each one did, in the order they were tried. */
export class NoPrimaryError extends OutboxError {
  readonly attempts: readonly { host: string; error: string }[];
  constructor(attempts: readonly { host: string; error: string }[], options?: { cause?: unknown }) {
    super(`no usable Postgres primary: ${attempts.map((a) => `${a.host}: ${a.error}`).join('; ')}`, options);
    this.attempts = attempts;
  }
}
