#!/usr/bin/env node
// What a POST /orders costs before any of the service's own work: the same JSON-in, JSON-out exchange served by
// node:http alone and by express (one route, express.json), each in its own process, under the load of the
// benchmark's (3) (autocannon, 64 connections). Prints requests/s and the server's CPU per request, so the
// service's own µs per order (bench step (3)) can be read against the floor its framework sets on this machine.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { measureCpu } from './lib/processes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.argv[2] ?? 8);

async function measure(variant) {
  const child = spawn(process.execPath, [path.join(here, 'lib', 'floor-server.cjs'), variant], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise((resolve, reject) => {
      child.stdout.once('data', (data) => resolve(Number(String(data).trim())));
      child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
    });
    const options = (duration) => ({
      url: `http://127.0.0.1:${port}/orders`,
      method: 'POST',
      connections: 64,
      duration,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: '0b7d3c1e-1111-4222-8333-444455556666', amount: 42.5, currency: 'EUR' }),
    });
    const run = (duration) => new Promise((resolve, reject) => autocannon(options(duration), (e, r) => (e ? reject(e) : resolve(r))));
    await run(2);
    const cpu = measureCpu(child.pid);
    const result = await run(SECONDS);
    const share = cpu.stop();
    const rate = result.requests.total / result.duration;
    return { variant, rate, share, usPerRequest: (share * 1e6) / rate, non2xx: result.non2xx };
  } finally {
    child.kill();
  }
}

for (const variant of ['node-http', 'express']) {
  const m = await measure(variant);
  process.stdout.write(
    `${variant.padEnd(9)} ${Math.round(m.rate).toLocaleString('en-US')} requests/s, server CPU ${(m.share * 100).toFixed(0)} % of a core = ` +
      `${Math.round(m.usPerRequest)} µs per request${m.non2xx ? ` (${m.non2xx} non-2xx!)` : ''}\n`,
  );
}
