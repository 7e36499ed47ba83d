// What a POST /orders costs before any of the service's own work: the same JSON-in, JSON-out exchange served by
// node:http alone, by node:http with the order service's zod validation, by the runtime's ServiceHttp (fastify, as
// the order service uses it) and by express (one route, express.json), each in its own process, under the load of the
// benchmark's (3) (autocannon, 64 connections). Prints requests/s and the server's CPU per request, so the
// service's own µs per order (bench step (3)) can be read against the floor its framework sets on this machine.
// Usage: node -r ./test/support/register-ts.cjs scripts/bench/http-floor.ts [seconds=8]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runAutocannon, type AutocannonOptions } from './lib/autocannon';
import { measureCpu } from './lib/processes';

const SECONDS = Number(process.argv[2] ?? 8);

async function measure(variant: string) {
  // The server runs under the same loader as this script (node -r …/register-ts.cjs): its startup compiles it, the
  // requests measured later do not pay for that.
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'lib', 'floor-server.ts'), variant], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
      child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
    });
    const options = (duration: number): AutocannonOptions => ({
      url: `http://127.0.0.1:${port}/orders`,
      method: 'POST',
      connections: 64,
      duration,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: '0b7d3c1e-1111-4222-8333-444455556666', amount: 42.5, currency: 'EUR' }),
    });
    await runAutocannon(options(2));
    const cpu = measureCpu(child.pid ?? 0);
    const result = await runAutocannon(options(SECONDS));
    const share = cpu.stop();
    const rate = result.requests.total / result.duration;
    return { variant, rate, share, usPerRequest: (share * 1e6) / rate, non2xx: result.non2xx };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  for (const variant of ['node-http', 'node-http-zod', 'service-http', 'express']) {
    const m = await measure(variant);
    process.stdout.write(
      `${variant.padEnd(13)} ${Math.round(m.rate).toLocaleString('en-US')} requests/s, server CPU ${(m.share * 100).toFixed(0)} % of a core = ` +
        `${Math.round(m.usPerRequest)} µs per request${m.non2xx ? ` (${m.non2xx} non-2xx!)` : ''}\n`,
    );
  }
}

void main();
