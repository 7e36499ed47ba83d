/**
 * The local demo (`make demo-local`) end to end: the script (TypeScript, through the loader) runs against this
 * machine's Postgres and NATS (its own schemas and stream), must exit 0 with every check passed and a measured
 * failover, and must leave nothing behind.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { REGISTER_TS, ROOT, TEST_DATABASE_URL, TEST_NATS_URL, freePort } from '@outbox-relay/test-support';

const SCRIPT = path.join(ROOT, 'scripts', 'demo-local.ts');

function runDemo(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REGISTER_TS, SCRIPT], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGINT'), 50_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('local demo script', () => {
  it('runs green: orders reach all 3 subscribers before and after the leader is SIGKILLed, then cleans up', async () => {
    for (const built of ['services/orders/dist/main.js', 'services/subscriber/dist/main.js']) {
      if (!existsSync(path.join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first (make test does)`);
    }
    const ports = [await freePort(), await freePort(), await freePort()];
    const { code, output } = await runDemo({
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: TEST_NATS_URL,
      DEMO_PORTS: ports.join(','),
    });
    if (code !== 0) process.stderr.write(output);

    expect(output).toMatch(/Failover: orders-\d became leader \d+ ms after SIGKILL of orders-\d/);
    expect(output).toMatch(/All \d+ checks passed\. Failover after SIGKILL: \d+ ms\./);
    expect(output).not.toMatch(/\bFAIL\b/);
    for (const line of [
      '3 order replicas ready',
      '3 subscribers consuming',
      'exactly one replica leads',
      'order 1: all 3 subscribers logged "Received order created event"',
      'another replica took over after SIGKILL of the leader',
      'order 2 (after failover): all 3 subscribers logged "Received order created event"',
      'no subscriber saw an order twice',
    ]) {
      expect(output).toContain(`PASS  ${line}`);
    }
    expect(code).toBe(0);

    // Its private schemas and stream on the shared servers are gone.
    const names = /Schemas\s+(demo_\w+_outbox), (demo_\w+_orders)\s+Stream (DEMO_\w+)/.exec(output);
    expect(names).not.toBeNull();
    const [, outboxSchema, ordersSchema, stream] = names!;
    const db = new Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [[outboxSchema, ordersSchema]]);
      expect(rows).toEqual([]);
    } finally {
      await db.end();
    }
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      await expect(jsm.streams.info(stream!)).rejects.toThrow(/stream not found/);
    } finally {
      await nc.close();
    }
    // And no demo process is left listening.
    for (const port of ports) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
      expect(res).toBeNull();
    }
  }, 60_000);
});
