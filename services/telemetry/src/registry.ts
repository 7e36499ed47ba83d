import { collectDefaultMetrics, Registry } from 'prom-client';
import { HttpMetrics } from './http-metrics';

export interface ServiceMetricsOptions {
  /** Process and Node.js runtime metrics (CPU, memory, event loop lag, GC, handles). Default true. */
  defaultMetrics?: boolean;
}

/**
 * The one Prometheus registry of a process, created in main and passed down (nothing registers globally, so tests
 * can build as many as they like), with the HTTP histogram every service exposes.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly http: HttpMetrics;

  constructor(options: ServiceMetricsOptions = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.http = new HttpMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; collectors that read the database (the backlog) run now, within their cache. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
