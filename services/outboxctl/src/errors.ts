/**
 * Exit codes of outboxctl (also listed in `--help` and README.md). Scripts branch on them, so they never change
 * meaning: add new codes instead.
 */
export const ExitCode = {
  ok: 0,
  /** A database error, or an operation that could not be done (already resolved, not replayable, ...). */
  failed: 1,
  /** Bad flags, arguments or configuration: nothing was attempted. */
  usage: 2,
  /** Something named on the command line does not exist (e.g. an unknown dead-letter id). */
  notFound: 3,
  /** step-down: a leader did not release its lease within --timeout. */
  timedOut: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line on stderr and turns into its exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** A flag or argument is wrong; `flag` names it (e.g. `--since`, `<id>`). */
export class UsageError extends CliError {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(message, ExitCode.usage);
    this.flag = flag;
  }
}

/** A setting is missing or invalid; names both the flag and the environment variable that set it. */
export class ConfigurationError extends CliError {
  readonly settings: Array<{ flag: string; variable: string; message: string }>;
  constructor(settings: Array<{ flag: string; variable: string; message: string }>) {
    super(settings.map((s) => `${s.flag} / ${s.variable}: ${s.message}`).join('; '), ExitCode.usage);
    this.settings = settings;
  }
}

/** A dead letter id (or other named object) does not exist. */
export class NotFoundError extends CliError {
  readonly what: string;
  constructor(what: string, message: string) {
    super(message, ExitCode.notFound);
    this.what = what;
  }
}

/** The database or the outbox/inbox schema is not usable (connection refused, tables missing, ...). */
export class DatabaseError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.failed, options);
  }
}

/** A dead letter cannot be acted on in its current state (already resolved, no aggregate to replay it through...). */
export class DeadLetterStateError extends CliError {
  /** `r<n>` or `c<n>`. */
  readonly deadLetterId: string;
  constructor(deadLetterId: string, message: string, options?: { cause?: unknown }) {
    super(`${deadLetterId}: ${message}`, ExitCode.failed, options);
    this.deadLetterId = deadLetterId;
  }
}
