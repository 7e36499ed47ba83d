import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Starts `server` on `port` (0 picks a free one) and resolves with the port it got; rejects if it cannot listen
 * (port taken), and stops listening for that error once it listens, so a later server error is not swallowed.
 */
export function listenHttp(server: http.Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    };
    if (host === undefined) server.listen(port, listening);
    else server.listen(port, host, listening);
  });
}
