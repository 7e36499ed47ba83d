// An open-loop HTTP client for POST /orders: requests go out on a fixed schedule whatever the answers do (a closed
// loop would slow down with the service and hide its queueing). It says how far behind its schedule it fell when
// this process could not send that fast or the cap on requests in flight was reached.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { sleep, wallMs } from './stats';

/** Requests awaiting their answer at most; beyond it the client falls behind schedule (and says so). */
export const MAX_IN_FLIGHT = 2000;

export interface SentOrder {
  phase: 'warmup' | 'measured';
  /** When this client had the 201 answer (wall clock, ms). */
  answered: number;
}

export interface OpenLoopResult {
  sent: number;
  /** From the first request to the last one sent (the schedule says rate × seconds). */
  sendSeconds: number;
  /** From the first request to the last answer. */
  seconds: number;
  /** The most requests that were due but not yet sent at one time. */
  maxBehind: number;
  /** The longest a due request waited to be sent, in ms. */
  maxLateMs: number;
  failures: number;
}

function post(agent: http.Agent, url: string, body: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `rate` requests per second for `seconds`, on schedule; records per-order answer times in `orders`. */
export async function openLoop(agent: http.Agent, url: string, rate: number, seconds: number, orders: Map<string, SentOrder>, phase: SentOrder['phase']): Promise<OpenLoopResult> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  let inFlight = 0;
  let maxBehind = 0;
  let maxLateMs = 0;
  let failures = 0;
  const pending: Array<Promise<void>> = [];
  while (sent < total) {
    const elapsedMs = performance.now() - started;
    const due = Math.min(total, Math.floor((elapsedMs / 1000) * rate) + 1);
    maxBehind = Math.max(maxBehind, due - sent);
    // Request number `sent` (0-based) was due at sent / rate seconds.
    maxLateMs = Math.max(maxLateMs, elapsedMs - (sent * 1000) / rate);
    while (sent < due) {
      if (inFlight >= MAX_IN_FLIGHT) break;
      sent++;
      inFlight++;
      const body = JSON.stringify({ customerId: randomUUID(), amount: 42.5, currency: 'EUR' });
      pending.push(
        post(agent, url, body)
          .then(({ status, body: text }) => {
            if (status !== 201) {
              failures++;
              return;
            }
            orders.set((JSON.parse(text) as { orderId: string }).orderId, { phase, answered: wallMs() });
          }, () => void failures++)
          .finally(() => void inFlight--),
      );
    }
    // The schedule's clock: a timer of 1 ms is the finest this loop can wait, and what is due is sent at once.
    await sleep(1);
  }
  const sendSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  return { sent, sendSeconds, seconds: (performance.now() - started) / 1000, maxBehind, maxLateMs, failures };
}
