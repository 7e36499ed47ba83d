// @outbox-relay/outboxctl as a library: run the CLI in-process (tests, other tools).
export { run, ExitCode, EXIT_CODES_HELP, type CliIo, type Writer } from './cli';
export { readConfig, type CliConfig } from './config';
export { parseDeadLetterId, formatDeadLetterId, type DeadLetterRef, type DeadLetterKind } from './ids';
