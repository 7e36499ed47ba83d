/**
 * deploy/grafana/outbox-relay-dashboard.json queries only metrics the services really expose (a renamed metric
 * would silently empty a panel), and is a well-formed dashboard.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { registerPaymentMetrics } from '@outbox-relay/payments';
import { SubscriberMetrics } from '@outbox-relay/subscriber';
import { BacklogMetrics, InboxMetrics, RelayMetrics, ServiceMetrics } from '@outbox-relay/telemetry';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; refId: string; datasource?: unknown }>;
}

const dashboard = JSON.parse(readFileSync(path.resolve(__dirname, '../../../deploy/grafana/outbox-relay-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string }> };
};

/** Every metric name a process of this project can expose (the collectors register their metrics when built). */
function exposedNames(): Set<string> {
  const metrics = new ServiceMetrics();
  new RelayMetrics(metrics.registry);
  // Never queried here: building it only registers the gauges.
  new BacklogMetrics(metrics.registry, { pool: new Pool(), schema: 'outbox' });
  new InboxMetrics(metrics.registry);
  new SubscriberMetrics(metrics.registry, 'sub-x');
  const payments = new ServiceMetrics({ defaultMetrics: false });
  registerPaymentMetrics(payments, 'payments', () => null);
  const names = new Set<string>();
  for (const registry of [metrics.registry, payments.registry]) {
    for (const metric of registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      names.add(name);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    }
  }
  return names;
}

it('queries only metrics that exist, and every panel has a query', () => {
  const names = exposedNames();
  const queried = new Set<string>();
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
    expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
    for (const target of panel.targets!) {
      const selectors = [...target.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!);
      expect(selectors.length).toBeGreaterThan(0);
      for (const name of selectors) queried.add(name);
    }
  }
  expect([...queried].filter((name) => !names.has(name))).toEqual([]);
  // The project's own series are all on the dashboard.
  const own = [...names].filter((n) => /^(outbox|inbox|subscriber|payments|http)_/.test(n) && !/_(bucket|sum|count)$/.test(n));
  const histogramsShown = (n: string) => queried.has(`${n}_bucket`) || queried.has(`${n}_count`) || queried.has(`${n}_sum`);
  expect(own.filter((n) => !queried.has(n) && !histogramsShown(n))).toEqual([]);
});

it('is a well-formed dashboard: unique panel ids, panels inside the 24-column grid, a data source variable', () => {
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
  expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'job']));
  expect(dashboard.uid).toBe('outbox-relay');
});
