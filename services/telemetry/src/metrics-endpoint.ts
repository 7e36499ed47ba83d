import type http from 'node:http';
import type { ServiceMetrics } from './registry';

/** Answers a scrape: 200 with the exposition text, or 500 naming what failed (the scrape then shows as down). */
export function serveMetrics(metrics: ServiceMetrics, res: http.ServerResponse): void {
  metrics.text().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
    },
    (error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`cannot collect metrics: ${(error as Error)?.message ?? String(error)}\n`);
    },
  );
}
