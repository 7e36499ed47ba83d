// Load test of the order service's write path for k6 v2: POST /orders at a constant arrival rate.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8081 -e RATE=500 -e DURATION=1m loadtest/orders.js
//
// Environment (all optional; a bad value stops the run at start-up with a message naming the variable):
//   BASE_URL           order service, default http://127.0.0.1:8081
//   RATE               new orders per second, default 200
//   DURATION           k6 duration (30s, 2m, 1m30s), default 30s
//   PRE_ALLOCATED_VUS  VUs started up front, default 50
//   MAX_VUS            ceiling when responses slow down, default max(200, PRE_ALLOCATED_VUS)
//   P95_MS / P99_MS    latency thresholds of POST /orders in ms, default 100 / 250
//   MAX_DROPPED        iterations the load may drop (k6 had no VU free to start them) before the run fails, default 0
//   SUMMARY_FILE       JSON summary written by handleSummary, default orders-summary.json
//
// Constant arrival rate is an open model: k6 starts RATE iterations per second whatever the latency, so a slow
// service shows up as latency and dropped iterations instead of silently lowering the load; thresholds hold on the
// load scenario's own samples (`{scenario:create_orders}`), not on setup's readiness probe.
// One remote import, pinned: k6's own end-of-test text summary (k6 fetches it at start; loadtest/k6-summary.d.ts
// types it, and test/loadtest/orders-k6.test.ts stands in for it offline, as it does for the k6 modules).
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { textSummary } from 'https://jslib.k6.io/k6-summary/0.1.0/index.js';

/**
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @returns {number}
 */
function envInt(name, fallback, min) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new Error(`${name} must be an integer of at least ${min}, got "${raw}"`);
  }
  return Number(raw);
}

/**
 * @param {string} name
 * @param {string} fallback
 * @param {RegExp} pattern
 * @param {string} rule
 * @returns {string}
 */
function envString(name, fallback, pattern, rule) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  if (!pattern.test(raw)) throw new Error(`${name} ${rule}, got "${raw}"`);
  return raw;
}

const BASE_URL = envString('BASE_URL', 'http://127.0.0.1:8081', /^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s):// URL').replace(/\/+$/, '');
const RATE = envInt('RATE', 200, 1);
const DURATION = envString('DURATION', '30s', /^(\d+(\.\d+)?(ms|s|m|h))+$/, 'must be a k6 duration such as 30s, 2m or 1m30s');
const PRE_ALLOCATED_VUS = envInt('PRE_ALLOCATED_VUS', 50, 1);
const MAX_VUS = envInt('MAX_VUS', Math.max(200, PRE_ALLOCATED_VUS), 1);
const P95_MS = envInt('P95_MS', 100, 1);
const P99_MS = envInt('P99_MS', 250, 1);
const MAX_DROPPED = envInt('MAX_DROPPED', 0, 0);
const SUMMARY_FILE = envString('SUMMARY_FILE', 'orders-summary.json', /^[^\s]+$/, 'must be a file path without spaces');
if (MAX_VUS < PRE_ALLOCATED_VUS) {
  throw new Error(`MAX_VUS (${MAX_VUS}) must be at least PRE_ALLOCATED_VUS (${PRE_ALLOCATED_VUS})`);
}

const SCENARIO = 'create_orders';
/** A k6 sub-metric: `metric` restricted to the load scenario's samples (setup's requests are not in it). */
const inScenario = (/** @type {string} */ metric) => `${metric}{scenario:${SCENARIO}}`;
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'JPY'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CHECK_STATUS = 'status is 201';
const CHECK_BODY = 'body has orderId and state CREATED';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    [SCENARIO]: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: PRE_ALLOCATED_VUS,
      maxVUs: MAX_VUS,
      gracefulStop: '10s',
    },
  },
  thresholds: {
    // Stop early when the service is clearly failing, but not on a blip while it warms up.
    [inScenario('http_req_failed')]: [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '10s' }],
    [inScenario('http_req_duration')]: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    [inScenario('checks')]: ['rate>0.99'],
    // An open model that could not start its iterations did not offer the load it was asked for.
    [inScenario('dropped_iterations')]: [`count<=${MAX_DROPPED}`],
  },
  // p(99) is not among k6's default trend stats.
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
};

/** @typedef {{ baseUrl: string, runId: string, startedAt: string }} SetupData */

/** A version-4 UUID (the service rejects other UUID variants). Math.random is enough for test customers. */
function uuidv4() {
  const hex = [];
  for (let i = 0; i < 32; i++) hex.push(Math.floor(Math.random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'.charAt(Math.floor(Math.random() * 4));
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** 1.00 to 500.00 with at most two decimals, as the service requires. */
function randomAmount() {
  return Math.round((1 + Math.random() * 499) * 100) / 100;
}

/**
 * @param {string | ArrayBuffer | null} body
 * @returns {unknown}
 */
function parseJson(body) {
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body);
  } catch (_) {
    return undefined;
  }
}

/** Checks the service is up before any load, so a wrong BASE_URL fails fast with a clear message. */
export function setup() {
  const res = http.get(`${BASE_URL}/readyz`, { tags: { name: 'GET /readyz' } });
  if (res.status !== 200) {
    const why = res.error ? res.error : `HTTP ${res.status}`;
    exec.test.abort(`order service at ${BASE_URL} is not ready (GET /readyz: ${why}); set BASE_URL`);
  }
  /** @type {SetupData} */
  const data = { baseUrl: BASE_URL, runId: Date.now().toString(36), startedAt: new Date().toISOString() };
  return data;
}

/**
 * One new order per iteration. X-Request-Id becomes the event's correlation id, so a run can be found in logs.
 * @param {SetupData} data
 */
export default function (data) {
  const body = JSON.stringify({
    customerId: uuidv4(),
    amount: randomAmount(),
    currency: CURRENCIES[Math.floor(Math.random() * CURRENCIES.length)],
  });
  const res = http.post(`${data.baseUrl}/orders`, body, {
    headers: {
      'Content-Type': 'application/json',
      'X-Request-Id': `k6-${data.runId}-${exec.vu.idInTest}-${exec.scenario.iterationInTest}`,
    },
    tags: { name: 'POST /orders' },
  });
  check(res, {
    [CHECK_STATUS]: (r) => r.status === 201,
    [CHECK_BODY]: (r) => {
      const json = /** @type {{ orderId?: unknown, state?: unknown } | undefined} */ (parseJson(r.body));
      return typeof json === 'object' && json !== null && typeof json.orderId === 'string' && UUID.test(json.orderId) && json.state === 'CREATED';
    },
  });
}

/**
 * The parts of k6's end-of-test summary data this script reads (textSummary reads the rest).
 * @typedef {{ values: Record<string, number>, thresholds?: Record<string, { ok: boolean }> }} SummaryMetric
 * @typedef {{ metrics: Record<string, SummaryMetric | undefined>, state?: { testRunDurationMs?: number, isStdOutTTY?: boolean }, setup_data?: Partial<SetupData> }} SummaryData
 */

/**
 * @param {SummaryMetric | undefined} metric
 * @param {string} stat
 * @returns {number | null}
 */
function stat(metric, stat) {
  const value = metric ? metric.values[stat] : undefined;
  return typeof value === 'number' ? value : null;
}

/**
 * A compact, stable report of the run (k6's full metrics are attached under `metrics`).
 * @param {SummaryData} data
 */
function report(data) {
  const m = data.metrics;
  /** The load scenario's figures, or the whole run's when k6 kept no sub-metric for them. */
  const scoped = (/** @type {string} */ name) => m[inScenario(name)] || m[name];
  const duration = scoped('http_req_duration');
  /** @type {Array<{ metric: string, threshold: string, ok: boolean }>} */
  const thresholds = [];
  for (const name of Object.keys(m)) {
    const metric = m[name];
    const defined = metric && metric.thresholds ? metric.thresholds : {};
    for (const threshold of Object.keys(defined)) {
      thresholds.push({ metric: name, threshold, ok: defined[threshold] ? defined[threshold].ok : false });
    }
  }
  const setupData = data.setup_data || {};
  return {
    test: 'POST /orders at constant arrival rate',
    baseUrl: setupData.baseUrl || BASE_URL,
    runId: setupData.runId || null,
    startedAt: setupData.startedAt || null,
    target: { ratePerSecond: RATE, duration: DURATION, preAllocatedVUs: PRE_ALLOCATED_VUS, maxVUs: MAX_VUS },
    testRunDurationMs: data.state && typeof data.state.testRunDurationMs === 'number' ? data.state.testRunDurationMs : null,
    requests: {
      count: stat(scoped('http_reqs'), 'count'),
      ratePerSecond: stat(scoped('http_reqs'), 'rate'),
      failedRate: stat(scoped('http_req_failed'), 'rate'),
    },
    latencyMs: {
      avg: stat(duration, 'avg'),
      med: stat(duration, 'med'),
      p90: stat(duration, 'p(90)'),
      p95: stat(duration, 'p(95)'),
      p99: stat(duration, 'p(99)'),
      max: stat(duration, 'max'),
    },
    checks: { passes: stat(scoped('checks'), 'passes'), fails: stat(scoped('checks'), 'fails') },
    droppedIterations: stat(scoped('dropped_iterations'), 'count') || 0,
    thresholds,
    passed: thresholds.every((t) => t.ok),
  };
}

/**
 * @param {number | null} value
 * @param {number} digits
 */
function fmt(value, digits) {
  return value === null ? 'n/a' : value.toFixed(digits);
}

/** @param {ReturnType<typeof report>} r */
function text(r) {
  const lines = [
    `POST /orders at ${r.target.ratePerSecond}/s for ${r.target.duration} against ${r.baseUrl}`,
    `  requests      ${fmt(r.requests.count, 0)} (${fmt(r.requests.ratePerSecond, 1)}/s), failed ${fmt(r.requests.failedRate === null ? null : r.requests.failedRate * 100, 2)} %`,
    `  latency ms    avg ${fmt(r.latencyMs.avg, 1)}  med ${fmt(r.latencyMs.med, 1)}  p90 ${fmt(r.latencyMs.p90, 1)}  p95 ${fmt(r.latencyMs.p95, 1)}  p99 ${fmt(r.latencyMs.p99, 1)}  max ${fmt(r.latencyMs.max, 1)}`,
    `  checks        ${fmt(r.checks.passes, 0)} passed, ${fmt(r.checks.fails, 0)} failed; dropped iterations ${r.droppedIterations}`,
    ...r.thresholds.map((t) => `  ${t.ok ? 'PASS' : 'FAIL'}  ${t.metric} ${t.threshold}`),
    `  result        ${r.passed ? 'all thresholds passed' : 'THRESHOLDS FAILED'}; JSON summary: ${SUMMARY_FILE}`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * k6 calls this once at the end: on stdout k6's own summary (every metric, check and threshold) and then this
 * script's compact report; the report plus k6's raw metrics as JSON in SUMMARY_FILE.
 * @param {SummaryData} data
 */
export function handleSummary(data) {
  const r = report(data);
  const colors = Boolean(data.state && data.state.isStdOutTTY);
  return {
    stdout: `${textSummary(data, { indent: ' ', enableColors: colors })}\n\n${text(r)}`,
    [SUMMARY_FILE]: `${JSON.stringify({ ...r, metrics: data.metrics }, null, 2)}\n`,
  };
}
