// Stub of `k6/http`: every call is a real, synchronous HTTP request made by the test process (runtime.httpSync).
const runtime = require('./runtime.cjs');

const DEFAULT_TIMEOUT_MS = 60_000;

function response(answer, method, url, body, headers) {
  return {
    url,
    status: answer.status,
    status_text: answer.statusText ?? '',
    body: answer.body,
    headers: answer.headers ?? {},
    error: answer.error ?? '',
    // k6 sets an error code for 4xx/5xx and for network errors (1xxx); 0 otherwise.
    error_code: answer.error ? 1000 : answer.status >= 400 ? answer.status * 1000 : 0,
    timings: { duration: answer.durationMs },
    request: { method, url, body: body ?? '', headers },
    json(selector) {
      if (selector !== undefined) throw new Error('stub k6/http: json(selector) is not supported');
      return JSON.parse(answer.body);
    },
  };
}

function request(method, url, body, params) {
  if (body !== null && body !== undefined && typeof body !== 'string') {
    throw new Error('stub k6/http: only string bodies are supported (form objects and ArrayBuffers are not)');
  }
  const headers = { ...(params?.headers ?? {}) };
  const timeoutMs = typeof params?.timeout === 'number' ? params.timeout : DEFAULT_TIMEOUT_MS;
  const answer = runtime.httpSync({ method, url, body: body ?? null, headers, timeoutMs }, timeoutMs + 5000);
  runtime.recordRequest({
    method,
    url,
    body: body ?? null,
    headers,
    tags: { ...(params?.tags ?? {}) },
    status: answer.status,
    error: answer.error ?? '',
    durationMs: answer.durationMs,
  });
  return response(answer, method, url, body, headers);
}

module.exports = {
  request,
  get: (url, params) => request('GET', url, null, params),
  head: (url, params) => request('HEAD', url, null, params),
  del: (url, body, params) => request('DELETE', url, body, params),
  post: (url, body, params) => request('POST', url, body, params),
  put: (url, body, params) => request('PUT', url, body, params),
  patch: (url, body, params) => request('PATCH', url, body, params),
};
