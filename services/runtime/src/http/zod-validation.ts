import type { FastifySchemaCompiler } from 'fastify';
import type { ZodType } from 'zod';
import type { FieldIssue } from '../config-error';
import { plainMessage } from '../plain-messages';
import { fieldIssuesOf, validationFailed, type HttpError } from './http-error';

/** A request part that failed its route's schema: answered 400 `validation_failed` naming every offending field. */
export class RequestValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(`request validation failed: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'RequestValidationError';
  }

  toHttpError(): HttpError {
    return validationFailed(this.issues);
  }
}

/**
 * Route schemas for the request (body, params, headers) are zod schemas: the same rules the libraries apply,
 * and errors that name each field. A request with no body fails a body schema as "request body is required".
 */
export const zodValidatorCompiler: FastifySchemaCompiler<ZodType> = ({ schema, httpPart }) => (data: unknown) => {
  if (httpPart === 'body' && (data === null || data === undefined)) {
    return { error: new RequestValidationError([{ path: '(root)', message: 'request body is required' }]) };
  }
  const result = schema.safeParse(data, { error: plainMessage });
  if (result.success) return { value: result.data };
  return { error: new RequestValidationError(fieldIssuesOf(result.error.issues)) };
};
