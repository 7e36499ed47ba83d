// Public entry of @outbox-relay/runtime: what every process of the system shares.
export { ConfigError, toFieldIssues, type FieldIssue } from './config-error';
export { parseEnv, readEnvOrExit, readConfigOrExit, envVar, SQL_IDENTIFIER, LOG_LEVELS, type LogLevel } from './env';
export { createLogger, type ProcessLogger } from './logger';
export { childLogger, silentLogger, type Logger, type LogContext } from './library-logger';
export { plainMessage } from './plain-messages';
export { exitOnUncaught, exitAfterFlush, settleWithin } from './process';
export { ProcessShutdown, type ShutdownPlan } from './lifecycle';
export { Backoff, delay } from './backoff';
export { FailureLog, causeOf, FAILURE_SUMMARY_EVERY_MS } from './failure-log';
export { ServiceHttp, type ServiceHttpOptions, type ServiceRoute, type MethodHandler, type RequestObserver } from './http/service-http';
export type { FastifyRequest, FastifyReply } from 'fastify';
export { addProbeRoutes, databaseProblem, databaseReadiness, type ProbeRoutes, type Readiness, type MetricsExposition } from './http/probe-routes';
export { HttpError, validationFailed, fieldIssuesOf, type HttpErrorBody } from './http/http-error';
export { RequestValidationError } from './http/zod-validation';
export { headerOf, parseTraceparent, type RequestContext } from './http/request-context';
