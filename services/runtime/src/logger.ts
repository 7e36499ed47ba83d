import pino, { type Logger as PinoLogger } from 'pino';

/**
 * JSON logs on stdout; `service` and (when known) `instanceId` are on every line so incidents grep cleanly.
 * Written asynchronously (a slow log pipe must not stall a relay's lease renewals), with a minimum buffer length
 * of one byte so that every line is written at once and `logger.flush(cb)` waits for the writes in flight:
 * pino's default (0) calls back at once, and an exit then could lose the last lines or write them out of order.
 */
export function createLogger(service: string, level = 'info', bindings: Record<string, unknown> = {}): ProcessLogger {
  return pino({ level, base: { service, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, minLength: 1 }));
}

/**
 * A process's own logger (pino): what `createLogger` returns and what the process-level parts take (`ProcessShutdown`,
 * `exitOnUncaught`, `ServiceHttp`), which need pino's flush, fatal and level checks. It is also a `Logger`, so it can
 * be handed to the libraries as it is.
 */
export type ProcessLogger = PinoLogger;
