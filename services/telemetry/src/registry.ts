import { collectDefaultMetrics, Registry } from 'prom-client';
import { readBuildInfo, registerBuildInfo, type BuildInfo } from './build-info';
import { Exposition, prefersOpenMetrics } from './exposition';
import { HttpMetrics } from './http-metrics';

export interface ServiceMetricsOptions {
  /** Process and Node.js runtime metrics (CPU, memory, event loop lag, GC, handles). Default true. */
  defaultMetrics?: boolean;
  /** What `outbox_relay_build_info` reports. Default: the build's (readBuildInfo). */
  buildInfo?: BuildInfo;
}

/**
 * The one Prometheus registry of a process, created in main and passed down (nothing registers globally, so tests
 * can build as many as they like), with the HTTP histogram and the build info every service exposes.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly http: HttpMetrics;
  private readonly exposition = new Exposition(this.registry);

  constructor(options: ServiceMetricsOptions = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.http = new HttpMetrics(this.registry);
    registerBuildInfo(this.registry, options.buildInfo ?? readBuildInfo());
  }

  /** The classic text exposition; collectors that read the database (the backlog) run now, within their cache. */
  async text(): Promise<string> {
    return (await this.exposition.render(false)).text;
  }

  /** `/metrics`: OpenMetrics when the scraper's Accept header prefers it, the classic text format otherwise. */
  render(accept: string | undefined): Promise<{ contentType: string; text: string }> {
    return this.exposition.render(prefersOpenMetrics(accept));
  }
}
