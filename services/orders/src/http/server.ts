import http from 'node:http';
import type { OrdersHttpHandler } from './app';

/** An HTTP server for `app` that, once `draining()` is true, tells keep-alive clients to reconnect elsewhere. */
export function createServer(app: OrdersHttpHandler, draining: () => boolean): http.Server {
  const server = http.createServer(app);
  // Runs before the app, so the header is set before any response starts.
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (draining()) res.setHeader('Connection', 'close');
  });
  return server;
}

/**
 * Stops accepting connections and resolves when in-flight requests have finished (idle keep-alive connections
 * are closed at once). After `timeoutMs` the remaining connections are cut; resolves `false` in that case.
 */
export function closeServer(server: http.Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      server.closeAllConnections();
    }, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve(!timedOut);
    });
    server.closeIdleConnections();
  });
}
