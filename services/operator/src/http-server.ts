import http from 'node:http';
import { serveMetrics } from '@outbox-relay/telemetry';
import type { OperatorMetrics } from './metrics';
import type { OperatorHealth } from './operator';

/** /healthz (liveness), /readyz (readiness) and /metrics (Prometheus text) of the operator process. */
export function createOperatorServer(options: { health: () => OperatorHealth; metrics: OperatorMetrics }): http.Server {
  return http.createServer((req, res) => {
    const health = options.health();
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'application/json', '{"error":"method_not_allowed"}');
    switch (req.url) {
      case '/healthz':
        return health.live ? send(200, 'application/json', '{"status":"ok"}') : send(503, 'application/json', '{"status":"failed"}');
      case '/readyz':
        return health.ready
          ? send(200, 'application/json', JSON.stringify({ status: 'ready', leader: health.leader }))
          : send(503, 'application/json', JSON.stringify({ status: 'not_ready', leader: health.leader }));
      case '/metrics':
        return serveMetrics(options.metrics.service, res);
      default:
        return send(404, 'application/json', '{"error":"not_found"}');
    }
  });
}

