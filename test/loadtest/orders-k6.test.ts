// k6 cannot be installed on this machine, so loadtest/orders.js is checked offline, twice over:
// 1. types: the TypeScript compiler checks the script (checkJs) against @types/k6 (the major of the k6 the README
//    names) and the declared jslib module, and nothing else (no Node types);
// 2. behaviour: the script runs in a worker under stub k6 modules whose http calls are real requests to an order
//    service started in-process on this file's own schemas; the rows it creates are read back from Postgres. The
//    one remote module (k6's text summary, pinned by URL) is stubbed under that exact URL.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import ts from 'typescript';
import { Outbox } from '@outbox-relay/outbox';
import { createOrdersHttp, migrateOrders } from '@outbox-relay/orders';
import type { ServiceHttp } from '@outbox-relay/runtime';
import { createTestSchema, type TestSchema, uniqueName, quietLogger } from '@outbox-relay/test-support';
import { compileK6Script, K6ScriptError, K6Vu, type CheckRecord } from './k6-vu';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'loadtest', 'orders.js');
const TSCONFIG = path.join(ROOT, 'loadtest', 'tsconfig.json');
const JSLIB_TYPES = path.join(ROOT, 'loadtest', 'k6-summary.d.ts');
const SCENARIO = 'create_orders';
const inScenario = (metric: string) => `${metric}{scenario:${SCENARIO}}`;

/** Diagnostics of the script under loadtest/tsconfig.json; `rewrite` changes the script's text first. */
function typeCheck(rewrite: (text: string) => string = (t) => t): string[] {
  const read = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const config = ts.parseJsonConfigFileContent(read.config, ts.sys, path.dirname(TSCONFIG));
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) =>
    path.resolve(fileName) === SCRIPT
      ? ts.createSourceFile(fileName, rewrite(ts.sys.readFile(fileName)!), languageVersion)
      : getSourceFile(fileName, languageVersion, ...rest);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? path.relative(ROOT, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

describe('loadtest/orders.js type-checks against @types/k6', () => {
  it('uses the @types/k6 of the k6 major the README names', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const named = /loadtest\/orders\.js` \(k6 v(\d+)\)/.exec(readme)?.[1];
    const types = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', '@types', 'k6', 'package.json'), 'utf8')) as { version: string }).version;
    const declared = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@types/k6'];
    expect(named).toBeDefined();
    expect(types.split('.')[0]).toBe(named);
    expect(declared).toMatch(new RegExp(`^\\^${named}\\.`));
  });

  it('has no type errors with checkJs, strict and only the k6 types in scope', () => {
    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(TSCONFIG, ts.sys.readFile).config, ts.sys, path.dirname(TSCONFIG));
    expect(config.fileNames.map((f) => path.resolve(f))).toEqual([SCRIPT, JSLIB_TYPES]);
    expect(config.options).toMatchObject({ checkJs: true, allowJs: true, strict: true, types: ['k6'] });
    expect(typeCheck()).toEqual([]);
  });

  it('would catch a misused k6 API (the check is not vacuous)', () => {
    const errors = typeCheck((text) =>
      text
        .replace(`executor: 'constant-arrival-rate'`, `executor: 'constant-arrival-rates'`)
        .replace('http.post(', 'http.postt(')
        .replace('exec.vu.idInTest', 'exec.vu.idInTests')
        .replace('enableColors: colors', 'enableColours: colors')
        .replace(`import http from 'k6/http';`, `import http from 'k6/http';\nconst pid = process.pid;`),
    );
    expect(errors.join('\n')).toMatch(/constant-arrival-rates/);
    expect(errors.join('\n')).toMatch(/'postt' does not exist/);
    expect(errors.join('\n')).toMatch(/'idInTests' does not exist/);
    // The jslib's declared types are in force too.
    expect(errors.join('\n')).toMatch(/'enableColours' does not exist/);
    // No Node types: a Node API in the script is an error, as it would be under k6.
    expect(errors.join('\n')).toMatch(/Cannot find name 'process'/);
  });
});

describe('loadtest/orders.js under stub k6 modules against the real order service', () => {
  const code = compileK6Script(SCRIPT);
  let db: TestSchema;
  let ordersSchema: string;
  let outbox: Outbox;
  let orders: ServiceHttp;
  let baseUrl: string;
  const vus: K6Vu[] = [];

  async function startVu(env: Record<string, string>, vu = 1): Promise<K6Vu> {
    const started = await K6Vu.start(code, { env, vu, filename: SCRIPT });
    vus.push(started);
    return started;
  }

  function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
    const created = http.createServer(handler);
    return new Promise((resolve) =>
      created.listen(0, '127.0.0.1', () => resolve({ server: created, url: `http://127.0.0.1:${(created.address() as AddressInfo).port}` })),
    );
  }

  beforeAll(async () => {
    db = await createTestSchema('k6_ob');
    ordersSchema = uniqueName('k6_or');
    await migrateOrders({ pool: db.pool, schema: ordersSchema, outboxSchema: db.schema });
    outbox = new Outbox({ pool: db.pool, schema: db.schema });
    orders = createOrdersHttp({ pool: db.pool, outbox, ordersSchema, logger: quietLogger, isReady: () => true });
    baseUrl = `http://127.0.0.1:${await orders.listen(0, '127.0.0.1')}`;
  });

  afterAll(async () => {
    await Promise.all(vus.map((vu) => vu.close()));
    await orders?.close(5000);
    await outbox?.close();
    await db?.pool.query(`DROP SCHEMA IF EXISTS "${ordersSchema}" CASCADE`);
    await db?.drop();
  });

  it('declares a constant-arrival-rate scenario and thresholds on its own samples from its environment', async () => {
    const vu = await startVu({ BASE_URL: baseUrl, RATE: '250', DURATION: '1m30s', PRE_ALLOCATED_VUS: '20', MAX_VUS: '80', P95_MS: '40', P99_MS: '90', MAX_DROPPED: '5' });
    expect(vu.exportNames).toEqual(expect.arrayContaining(['options', 'setup', 'default', 'handleSummary']));
    expect(vu.options).toMatchObject({
      scenarios: {
        [SCENARIO]: { executor: 'constant-arrival-rate', rate: 250, timeUnit: '1s', duration: '1m30s', preAllocatedVUs: 20, maxVUs: 80 },
      },
    });
    // Every threshold is scoped to the load scenario (setup's readiness probe is not load), and the run fails when
    // it dropped more iterations than MAX_DROPPED.
    expect((vu.options as { thresholds: unknown }).thresholds).toEqual({
      [inScenario('http_req_failed')]: [expect.objectContaining({ threshold: 'rate<0.01', abortOnFail: true })],
      [inScenario('http_req_duration')]: ['p(95)<40', 'p(99)<90'],
      [inScenario('checks')]: ['rate>0.99'],
      [inScenario('dropped_iterations')]: ['count<=5'],
    });
    expect((await startVu({ BASE_URL: baseUrl })).options).toMatchObject({ thresholds: { [inScenario('dropped_iterations')]: ['count<=0'] } });
    expect((vu.options as { summaryTrendStats: string[] }).summaryTrendStats).toContain('p(99)');
  });

  it('creates real orders with their events, and every check passes', async () => {
    const env = { BASE_URL: baseUrl };
    const [first, second] = [await startVu(env, 1), await startVu(env, 2)];
    const { value: setupData, requests: setupRequests } = await first.call<{ baseUrl: string; runId: string }>('setup');
    expect(setupRequests).toEqual([expect.objectContaining({ method: 'GET', url: `${baseUrl}/readyz`, status: 200 })]);
    expect(setupData).toMatchObject({ baseUrl, runId: expect.any(String) });

    // Two VUs, three iterations each, running at the same time (each VU blocks in its own thread, as in k6).
    const runs = await Promise.all(
      [first, second].map(async (vu, v) => {
        const results = [];
        for (let i = 0; i < 3; i++) results.push(await vu.call('default', setupData, { iterationInTest: v * 3 + i, iterationInScenario: i }));
        return results;
      }),
    );
    const results = runs.flat();
    const checks: CheckRecord[] = results.flatMap((r) => r.checks);
    expect(checks).toHaveLength(12);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(new Set(checks.map((c) => c.name))).toEqual(new Set(['status is 201', 'body has orderId and state CREATED']));

    const requests = results.flatMap((r) => r.requests);
    expect(requests).toHaveLength(6);
    const sent = requests.map((r) => ({ body: JSON.parse(r.body!) as { customerId: string; amount: number; currency: string }, requestId: r.headers['X-Request-Id'] }));
    expect(new Set(sent.map((s) => s.requestId)).size).toBe(6);

    const { rows: orders } = await db.pool.query<{ id: string; customer_id: string; amount: string; currency: string; state: string }>(
      `SELECT id, customer_id, amount::text AS amount, currency, state FROM "${ordersSchema}".orders`,
    );
    expect(orders).toHaveLength(6);
    expect(orders.every((o) => o.state === 'CREATED')).toBe(true);
    expect(new Set(orders.map((o) => o.customer_id))).toEqual(new Set(sent.map((s) => s.body.customerId)));
    for (const order of orders) {
      const request = sent.find((s) => s.body.customerId === order.customer_id)!;
      expect(Number(order.amount)).toBe(request.body.amount);
      expect(order.currency).toBe(request.body.currency);
    }

    // Each order's OrderCreated event carries the request's X-Request-Id as correlation id.
    const { rows: events } = await db.pool.query<{ aggregate_id: string; event_type: string; correlation_id: string }>(
      `SELECT aggregate_id, event_type, headers->>'correlationId' AS correlation_id FROM "${db.schema}".outbox`,
    );
    expect(events.map((e) => e.aggregate_id).sort()).toEqual(orders.map((o) => o.id).sort());
    expect(events.every((e) => e.event_type === 'OrderCreated')).toBe(true);
    expect(new Set(events.map((e) => e.correlation_id))).toEqual(new Set(sent.map((s) => s.requestId)));
    expect(sent.every((s) => s.requestId?.startsWith(`k6-${setupData.runId}-`))).toBe(true);
  });

  it('fails its checks when the service answers with something other than a created order', async () => {
    const { server: wrong, url } = await listen((req, res) => {
      const [status, body] = req.url === '/orders' ? [200, { orderId: 'not-a-uuid', state: 'PAID' }] : [200, { status: 'ready' }];
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    try {
      const vu = await startVu({ BASE_URL: url });
      const { value: setupData } = await vu.call('setup');
      const { checks } = await vu.call('default', setupData, { iterationInTest: 0, iterationInScenario: 0 });
      expect(checks).toEqual([
        { name: 'status is 201', ok: false },
        { name: 'body has orderId and state CREATED', ok: false },
      ]);
    } finally {
      await new Promise((resolve) => wrong.close(resolve));
    }
  });

  it('aborts in setup, naming BASE_URL, when the service is not reachable', async () => {
    const { server: closed, url } = await listen(() => undefined);
    await new Promise((resolve) => closed.close(resolve));
    const vu = await startVu({ BASE_URL: url });
    const error = await vu.call('setup').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K6ScriptError);
    expect(error).toMatchObject({ aborted: true, message: expect.stringMatching(new RegExp(`${url}.*not ready.*BASE_URL`)) });
  });

  it.each([
    [{ RATE: '0' }, /RATE must be an integer of at least 1, got "0"/],
    [{ DURATION: 'soon' }, /DURATION must be a k6 duration/],
    [{ BASE_URL: 'localhost:8081' }, /BASE_URL must be an http\(s\):\/\/ URL/],
    [{ PRE_ALLOCATED_VUS: '50', MAX_VUS: '10' }, /MAX_VUS \(10\) must be at least PRE_ALLOCATED_VUS \(50\)/],
    [{ MAX_DROPPED: '-1' }, /MAX_DROPPED must be an integer of at least 0, got "-1"/],
  ])('refuses a bad environment %j at init with a message naming the variable', async (env, message) => {
    await expect(startVu(env)).rejects.toThrow(message);
  });

  it("handleSummary prints k6's own summary, then its report, and writes the JSON summary file", async () => {
    const vu = await startVu({ BASE_URL: baseUrl, RATE: '300', DURATION: '20s', SUMMARY_FILE: 'out/summary.json', P95_MS: '50', P99_MS: '120' });
    // k6's end-of-test data shape: whole-run metrics (setup's GET /readyz included) and the scenario's sub-metrics,
    // which carry the thresholds; one threshold failed.
    const summaryData = {
      state: { testRunDurationMs: 20_012, isStdOutTTY: false, isStdErrTTY: false },
      setup_data: { baseUrl, runId: 'run42', startedAt: '2026-01-01T00:00:00.000Z' },
      root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: [], checks: [] },
      options: { summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'], summaryTimeUnit: '', noColor: false },
      metrics: {
        http_reqs: { type: 'counter', contains: 'default', values: { count: 6002, rate: 300.0 } },
        [inScenario('http_reqs')]: { type: 'counter', contains: 'default', values: { count: 6001, rate: 299.9 } },
        http_req_failed: { type: 'rate', contains: 'default', values: { rate: 0.0005, passes: 3, fails: 5999 } },
        [inScenario('http_req_failed')]: { type: 'rate', contains: 'default', values: { rate: 0.0005, passes: 3, fails: 5998 }, thresholds: { 'rate<0.01': { ok: true } } },
        http_req_duration: {
          type: 'trend',
          contains: 'time',
          values: { avg: 12.6, min: 3.1, med: 9.8, max: 2000.5, 'p(90)': 21.4, 'p(95)': 33.3, 'p(99)': 140.7, count: 6002 },
        },
        [inScenario('http_req_duration')]: {
          type: 'trend',
          contains: 'time',
          values: { avg: 12.5, min: 3.1, med: 9.8, max: 301.2, 'p(90)': 21.4, 'p(95)': 33.3, 'p(99)': 140.7, count: 6001 },
          thresholds: { 'p(95)<50': { ok: true }, 'p(99)<120': { ok: false } },
        },
        checks: { type: 'rate', contains: 'default', values: { rate: 0.9995, passes: 11994, fails: 6 } },
        [inScenario('checks')]: { type: 'rate', contains: 'default', values: { rate: 0.9995, passes: 11994, fails: 6 }, thresholds: { 'rate>0.99': { ok: true } } },
        dropped_iterations: { type: 'counter', contains: 'default', values: { count: 2, rate: 0.1 } },
        [inScenario('dropped_iterations')]: { type: 'counter', contains: 'default', values: { count: 2, rate: 0.1 }, thresholds: { 'count<=0': { ok: false } } },
      },
    };
    const { value: files } = await vu.call<Record<string, string>>('handleSummary', summaryData);
    expect(Object.keys(files).sort()).toEqual(['out/summary.json', 'stdout']);

    const json = JSON.parse(files['out/summary.json']!) as Record<string, unknown>;
    expect(json).toMatchObject({
      baseUrl,
      runId: 'run42',
      target: { ratePerSecond: 300, duration: '20s' },
      testRunDurationMs: 20_012,
      // The scenario's figures, not the whole run's (setup's slow readiness probe is not in max).
      requests: { count: 6001, ratePerSecond: 299.9, failedRate: 0.0005 },
      latencyMs: { med: 9.8, p95: 33.3, p99: 140.7, max: 301.2 },
      checks: { passes: 11994, fails: 6 },
      droppedIterations: 2,
      passed: false,
      metrics: summaryData.metrics,
    });
    expect(json.thresholds).toEqual(
      expect.arrayContaining([
        { metric: inScenario('http_req_failed'), threshold: 'rate<0.01', ok: true },
        { metric: inScenario('http_req_duration'), threshold: 'p(99)<120', ok: false },
        { metric: inScenario('dropped_iterations'), threshold: 'count<=0', ok: false },
      ]),
    );

    // stdout: k6's own summary first (every metric with its threshold mark, no colours off a terminal) ...
    const [k6Summary, report] = files.stdout!.split('\n\n');
    expect(k6Summary).toContain(`✗ ${inScenario('http_req_duration')}`);
    expect(k6Summary).toContain(`✓ ${inScenario('http_req_failed')}`);
    expect(k6Summary).toContain(`✗ ${inScenario('dropped_iterations')}`);
    expect(k6Summary).not.toContain('\x1b[');
    // ... then this script's compact report.
    expect(report).toContain('POST /orders at 300/s for 20s');
    expect(report).toMatch(/p95 33\.3 +p99 140\.7 +max 301\.2/);
    expect(report).toContain(`FAIL  ${inScenario('http_req_duration')} p(99)<120`);
    expect(report).toContain('THRESHOLDS FAILED');

    // On a terminal, k6's summary is coloured.
    const { value: onTerminal } = await vu.call<Record<string, string>>('handleSummary', { ...summaryData, state: { ...summaryData.state, isStdOutTTY: true } });
    expect(onTerminal.stdout).toContain('\x1b[');
  });
});
