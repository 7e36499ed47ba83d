import type http from 'node:http';
import { parse as parseYaml } from 'yaml';
import { isObject, jsonPatch, JsonPatchError, mergePatch, type JsonObject } from './json';
import type { ResourceType } from './resources';
import { StatusError } from './store';

export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function parseJson(text: string): JsonObject {
  try {
    const value: unknown = JSON.parse(text);
    if (!isObject(value)) throw new SyntaxError('expected a JSON object');
    return value;
  } catch (err) {
    throw new StatusError(400, 'BadRequest', `invalid JSON body: ${(err as Error).message}`);
  }
}

/** Apply bodies are YAML (JSON is YAML too). */
export function parseApplyBody(text: string): JsonObject {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new StatusError(400, 'BadRequest', `invalid YAML body: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new StatusError(400, 'BadRequest', 'apply body must be an object');
  return value;
}

/**
 * The patch types other than apply, answered as the API server does: JSON patch needs a list of operations (an
 * object body is a 400), and custom resources refuse strategic merge patch (415).
 */
export function applyNonApplyPatch(r: ResourceType, object: JsonObject, type: string, text: string): JsonObject {
  try {
    if (type === 'application/merge-patch+json') return mergePatch(object, JSON.parse(text)) as JsonObject;
    if (type === 'application/json-patch+json') return jsonPatch(object, JSON.parse(text));
    if (type === 'application/strategic-merge-patch+json') {
      if (r.custom) {
        throw new StatusError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
      }
      return mergePatch(object, JSON.parse(text)) as JsonObject;
    }
  } catch (err) {
    if (err instanceof JsonPatchError || err instanceof SyntaxError) throw new StatusError(400, 'BadRequest', err.message);
    throw err;
  }
  throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format: ${type}`);
}
