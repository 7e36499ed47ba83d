/**
 * Every metric the chart's alerts name exists, with the labels the alerts test: the relay's from the /metrics of a
 * real relay process (dist/main.js against the shared Postgres and NATS, leading its partition), the operator's
 * from its registry (OperatorMetrics, which its /metrics serves). Built first (incremental), as the relay's own
 * metrics test does. A renamed metric or label would leave an alert that can never fire; this fails instead.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Metric } from 'prom-client';
import { createTestSchema, createTestStream, ROOT, startRelayProcess, waitFor, type ServiceProcess, type TestSchema, type TestStream } from '@outbox-relay/test-support';
import { OperatorMetrics } from '../../services/operator/src/metrics';
import { parseMetrics, type Sample } from '../../services/telemetry/test/support/scrape';
import { renderChart } from './support/helm';
import { checkPromql } from './support/promql';
import { alertRules } from './support/prometheus-rules';

/**
 * Labels a series gets from where it is scraped, not from the process: Prometheus adds job and instance,
 * prometheus-operator namespace, pod, container and endpoint, the relay PodMonitor outbox_relay.
 */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'container', 'endpoint', 'outbox_relay'];

/** Series no outbox-relay process exposes, with where they come from and the labels the alerts rely on. */
const EXTERNAL: Record<string, { source: string; labels: string[] }> = {
  up: { source: "Prometheus itself, one per scrape target, with the target's labels", labels: TARGET_LABELS },
  kube_pod_container_status_restarts_total: { source: 'kube-state-metrics', labels: ['namespace', 'pod', 'uid', 'container'] },
};

/** Family name → the label names seen on its samples (`# TYPE` lines name families that have no sample yet). */
function families(text: string, samples: Sample[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [, name] of text.matchAll(/^# TYPE (\S+) \S+$/gm)) out.set(name!, new Set());
  for (const sample of samples) for (const label of Object.keys(sample.labels)) out.get(sample.name)?.add(label);
  return out;
}

const rules = alertRules(
  renderChart('helm/outbox-relay-operator', {
    set: { 'metrics.prometheusRule.enabled': true, 'metrics.relayPodMonitor.enabled': true, 'metrics.serviceMonitor.enabled': true },
  }),
);
const selectorsOf = (group: string) => rules.filter((r) => r.group === group).flatMap((r) => checkPromql(r.expr).selectors.map((s) => ({ ...s, alert: r.alert })));

let db: TestSchema;
let stream: TestStream;
let relay: ServiceProcess | undefined;
let relayText: string;
let relaySamples: Sample[];

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/relay'], { cwd: ROOT, stdio: 'pipe' });
  db = await createTestSchema('chartalerts');
  stream = await createTestStream('chartalerts');
  const started = await startRelayProcess(db, stream, 'chart-alerts-0', { METRICS_BACKLOG_CACHE_MS: '0' });
  relay = started.proc;
  const base = started.url;
  // Once it leads, every per-partition gauge has its samples (a follower's is_leader would be 0 but present too).
  ({ text: relayText, samples: relaySamples } = await waitFor(
    'the relay leading partition 0, seen on /metrics',
    async () => {
      const res = await fetch(`${base}/metrics`).catch(() => undefined);
      if (!res?.ok) return undefined;
      const text = await res.text();
      const samples = parseMetrics(text);
      return samples.some((s) => s.name === 'outbox_relay_is_leader' && s.labels.partition === '0' && s.value === 1) ? { text, samples } : undefined;
    },
    60_000,
  ));
}, 120_000);

afterAll(async () => {
  await relay?.stop('SIGKILL');
  await stream?.drop();
  await db?.drop();
});

test('the alerts name metrics of the relay, the operator and two documented outside sources, nothing else', () => {
  const names = [...new Set(rules.flatMap((r) => checkPromql(r.expr).metricNames))].sort();
  expect(names).toEqual(
    [
      'outbox_relay_is_leader',
      'outbox_oldest_pending_age_seconds',
      'outbox_dead_letters_total',
      'kube_pod_container_status_restarts_total',
      'up',
      'outbox_operator_events_total',
      'outbox_operator_reconciles_total',
      'outbox_operator_leader',
    ].sort(),
  );
});

test("every metric a relay alert names is on a real relay's /metrics (or is outside), with the labels the alert tests", () => {
  const exposed = families(relayText, relaySamples);
  const missing: string[] = [];
  for (const { alert, metric, labels } of selectorsOf('outbox-relay.relays')) {
    const known = exposed.get(metric) ?? (EXTERNAL[metric] ? new Set(EXTERNAL[metric].labels) : undefined);
    if (!known) missing.push(`${alert}: ${metric}`);
    else for (const label of labels) if (!known.has(label) && !TARGET_LABELS.includes(label)) missing.push(`${alert}: ${metric}{${label}}`);
  }
  expect(missing).toEqual([]);
  // The alerts group relay series by partition: the gauges carry it.
  expect(exposed.get('outbox_relay_is_leader')).toEqual(new Set(['partition']));
  expect(exposed.get('outbox_oldest_pending_age_seconds')).toEqual(new Set(['partition']));
});

test("every metric an operator alert names is in the operator's registry, with the labels the alert tests", async () => {
  const metrics = new OperatorMetrics();
  const text = await metrics.service.text();
  const exposed = families(text, parseMetrics(text));
  const missing: string[] = [];
  for (const { alert, metric, labels } of selectorsOf('outbox-relay.operator')) {
    if (!exposed.has(metric)) {
      missing.push(`${alert}: ${metric}`);
      continue;
    }
    // A labelled counter has no sample before its first increment: its label names are the ones it was declared with.
    const declared = (metrics.service.registry.getSingleMetric(metric) as (Metric & { labelNames?: string[] }) | undefined)?.labelNames ?? [];
    for (const label of labels) if (!declared.includes(label) && !TARGET_LABELS.includes(label)) missing.push(`${alert}: ${metric}{${label}}`);
  }
  expect(missing).toEqual([]);
});
