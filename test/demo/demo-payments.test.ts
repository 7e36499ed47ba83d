/**
 * The payment seed scenarios (`make demo-payments`, also run by `make demo`) end to end against this machine's
 * Postgres and NATS: exit 0 with every check passed, and nothing left behind (schemas, stream).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { REGISTER_TS, ROOT, TEST_DATABASE_URL, TEST_NATS_URL } from '@outbox-relay/test-support';

function runDemo(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REGISTER_TS, path.join(ROOT, 'scripts', 'demo-payments.ts')], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', DATABASE_URL: TEST_DATABASE_URL, NATS_URL: TEST_NATS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGINT'), 80_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

it('pays, skips a duplicate, retries then dead-letters, and replays the dead letter to PAID', async () => {
  const { code, output } = await runDemo();
  if (code !== 0) process.stderr.write(output);
  for (const line of [
    'order 1 PAID (CREATED → PAYMENT_PENDING → PAID, version 3)',
    'replayed OrderCreated skipped as a duplicate',
    "order 1's version unchanged",
    'retried 3 times with growing delays',
    'dead-lettered after 4 attempts',
    'order 2 FAILED, PaymentFailed emitted',
    'outboxctl dlq replay accepted',
    'order 2 PAID after the replay (FAILED → PAYMENT_PENDING → PAID)',
  ]) {
    expect(output).toContain(`PASS  ${line}`);
  }
  expect(output).not.toMatch(/\bFAIL\b/);
  expect(output).toMatch(/All \d+ checks passed\./);
  expect(code).toBe(0);

  const names = /Schemas\s+([\w, ]+?)\s+Stream (\w+)/.exec(output);
  expect(names).not.toBeNull();
  const schemas = names![1]!.split(',').map((s) => s.trim());
  const db = new Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [schemas]);
    expect(rows).toEqual([]);
  } finally {
    await db.end();
  }
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    await expect((await jetstreamManager(nc)).streams.info(names![2]!)).rejects.toThrow(/stream not found/);
  } finally {
    await nc.close();
  }
}, 90_000);
