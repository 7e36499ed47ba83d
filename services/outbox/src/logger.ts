import pino, { type Logger } from 'pino';

/** JSON logs on stdout; `service` and (when known) `instanceId` are on every line so incidents grep cleanly. */
export function createLogger(service: string, level = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
