import type http from 'node:http';
import { HttpError } from './errors';

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

/**
 * Reads a JSON request body of at most `limitBytes`. Resolves undefined when the request has no body. Refuses,
 * with the status and error the API documents: a body that is not JSON, in a charset other than UTF-8 or with a
 * Content-Encoding (415), more than the limit (413, judged by Content-Length before reading when there is one),
 * anything but a JSON object or array (400 malformed_json).
 */
export function readJsonBody(req: http.IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
  if (!hasBody) return Promise.resolve(undefined);
  const type = jsonMediaType(req.headers['content-type']);
  if (!type.json) {
    return Promise.reject(new HttpError(415, { error: 'unsupported_media_type', message: 'Content-Type must be application/json' }));
  }
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    // An order is a few hundred bytes: compressing it buys nothing, and refusing is clearer than a parse error.
    return Promise.reject(
      new HttpError(415, { error: 'unsupported_media_type', message: `Content-Encoding ${encoding} is not accepted; send the body uncompressed` }),
    );
  }
  if (type.charset !== null && type.charset !== 'utf-8' && type.charset !== 'utf8') {
    return Promise.reject(new HttpError(415, { error: 'unsupported_media_type', message: `unsupported charset "${type.charset.toUpperCase()}"` }));
  }
  const tooLarge = () =>
    new HttpError(413, { error: 'payload_too_large', message: `request body exceeds the limit of ${limitBytes} bytes` });
  if (declared !== undefined && Number(declared) > limitBytes) {
    req.resume(); // discard it, so the connection can carry the answer and the next request
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      const text = Buffer.concat(chunks, size).toString('utf8');
      // Like a strict JSON body parser: only an object or an array is a request body.
      const first = /\S/.exec(text)?.[0];
      if (first === undefined) return resolve(undefined);
      if (first !== '{' && first !== '[') return reject(malformed());
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(malformed());
      }
    };
    const onAborted = () => {
      cleanup();
      reject(new HttpError(400, { error: 'bad_request', message: 'request aborted' }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAborted);
    req.on('aborted', onAborted);
  });
}

function malformed(): HttpError {
  return new HttpError(400, { error: 'malformed_json', message: 'request body is not valid JSON' });
}
