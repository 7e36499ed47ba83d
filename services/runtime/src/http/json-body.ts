import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, unsupportedMediaType } from './http-error';

/** `application/json` and `application/*+json`, with no charset or utf-8 (JSON is UTF-8, RFC 8259). */
function jsonMediaType(contentType: string | undefined): { json: boolean; charset: string | null } {
  if (contentType === undefined) return { json: false, charset: null };
  const [type = '', ...params] = contentType.toLowerCase().split(';');
  const essence = type.trim();
  const json = essence === 'application/json' || (essence.startsWith('application/') && essence.endsWith('+json'));
  let charset: string | null = null;
  for (const param of params) {
    const [key, value] = param.split('=');
    if (key?.trim() === 'charset' && value !== undefined) charset = value.trim().replace(/^"|"$/g, '');
  }
  return { json, charset };
}

/** Refuses, before anything is parsed, a body this API cannot read (415). */
function refuseUnreadable(request: FastifyRequest): HttpError | null {
  const type = jsonMediaType(request.headers['content-type']);
  if (!type.json) return unsupportedMediaType('Content-Type must be application/json');
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    // Request bodies here are small: compressing them buys nothing, and refusing is clearer than a parse error.
    return unsupportedMediaType(`Content-Encoding ${encoding} is not accepted; send the body uncompressed`);
  }
  if (type.charset !== null && type.charset !== 'utf-8' && type.charset !== 'utf8') {
    return unsupportedMediaType(`unsupported charset "${type.charset.toUpperCase()}"`);
  }
  return null;
}

/**
 * Replaces fastify's body parsers with one for JSON of any `application/json` or `application/*+json` type. The
 * body limit is fastify's (413 before reading when Content-Length says so). Any other type, a charset other than
 * UTF-8 or a Content-Encoding is 415; a body that does not parse is 400 `malformed_json`; an empty one is no body.
 * Parsing is fastify's own (it refuses `__proto__` keys); what the value must look like is the route's schema's.
 */
export function acceptJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, text, done) => {
    const refused = refuseUnreadable(request);
    if (refused) return done(refused, undefined);
    if (typeof text !== 'string' || text.trim() === '') return done(null, undefined);
    parseJson(request, text, (error, value) => {
      if (error) done(new HttpError(400, { error: 'malformed_json', message: 'request body is not valid JSON' }), undefined);
      else done(null, value);
    });
  });
}
