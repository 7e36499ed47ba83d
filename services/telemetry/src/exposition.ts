import { Registry, type RegistryContentType } from 'prom-client';

/**
 * True when an Accept header prefers OpenMetrics: `application/openmetrics-text` with a quality above zero and at
 * least that of `text/plain` (wildcards alone never choose it). Prometheus asks for it first when it can read it.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  let openMetrics = 0;
  let text = 0;
  for (const range of (accept ?? '').split(',')) {
    const [type = '', ...parameters] = range.split(';').map((p) => p.trim().toLowerCase());
    const qParameter = parameters.find((p) => p.startsWith('q='));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text;
}

/**
 * Renders `registry` in the classic text format or in OpenMetrics, one scrape at a time. prom-client renders
 * OpenMetrics by switching the registry's format and renaming every counter in place (`x_total` → `x`, to write the
 * family name), which would leak into a classic scrape running meanwhile; so scrapes never overlap, and the names
 * and the format are put back after each OpenMetrics one.
 */
export class Exposition {
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly registry: Registry) {}

  render(openMetrics: boolean): Promise<{ contentType: string; text: string }> {
    const next = this.last.then(() => (openMetrics ? this.openMetrics() : this.classic()));
    this.last = next.catch(() => undefined);
    return next;
  }

  private async classic(): Promise<{ contentType: string; text: string }> {
    return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, text: await this.registry.metrics() };
  }

  private async openMetrics(): Promise<{ contentType: string; text: string }> {
    const registry = this.registry as Registry<RegistryContentType>;
    const metrics = registry.getMetricsAsArray() as unknown as Array<{ name: string }>;
    const names = metrics.map((metric) => metric.name);
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    try {
      return { contentType: Registry.OPENMETRICS_CONTENT_TYPE, text: await registry.metrics() };
    } finally {
      registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
      metrics.forEach((metric, i) => (metric.name = names[i]!));
    }
  }
}
