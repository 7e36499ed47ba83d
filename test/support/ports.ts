import net from 'node:net';
import { waitFor } from './wait';

/** A loopback port nothing listens on right now (another process may take it before it is used). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Whether a new TCP connection to the loopback port is accepted (and closed again at once). */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  await waitFor(`something listening on port ${port}`, () => portAnswers(port), timeoutMs, 50);
}
