import { findObject, type KubeObject } from './kube-objects';

/** One alerting rule of a rendered PrometheusRule, with the name of its group. */
export interface AlertRule {
  group: string;
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The alerting rules of the one PrometheusRule among `objects`, in order. */
export function alertRules(objects: KubeObject[]): AlertRule[] {
  const rule = findObject(objects, 'PrometheusRule');
  return (rule.spec.groups as Array<{ name: string; rules: Array<Omit<AlertRule, 'group'>> }>).flatMap((group) =>
    group.rules.map((r) => ({ group: group.name, ...r, expr: String(r.expr) })),
  );
}
